"""The scalespace Jupyter kernel against Debian's jupyter_kernel_test conformance suite.

Run by ctest as `/usr/bin/python3 -m unittest -v test_kernel` in tests/jupyter, with
JUPYTER_PATH pointing at the build's share/jupyter (its kernelspec runs that build's
executable). Every test of the suite runs except history (the kernel keeps none).
"""
import unittest

import jupyter_kernel_test


class ScalespaceKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "scalespace"
    language_name = "lua"
    file_extension = ".lua"

    code_hello_world = "print('hello, world')"
    code_stderr = "io.stderr:write('to stderr\\n')"
    code_page_something = "math.floor?"

    completion_samples = [
        {"text": "math.fl", "matches": {"math.floor"}},
        {"text": "string.up", "matches": {"string.upper"}},
        {"text": "whi", "matches": {"while"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "function f(x) return x end", "local t = {1, 2}\nt"]
    incomplete_code_samples = ["function f(x)", "for i = 1, 10 do", "x = {1, 2,", "1 +", "s = [[long"]
    invalid_code_samples = ["x = = 1", "1 1", "end", "local 5 = x"]

    code_generate_error = "error('boom')"
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "{1, 2, 'three'}", "result": '{1, 2, "three"}'},
        {"code": "local ss = require 'scalespace'\nlocal t = ss.zeros{2, 3}\nt:shape()", "result": "{2, 3}"},
        {"code": "x = 20\nx + 1", "result": "21"},
    ]
    code_display_data = [
        {"code": "local ss = require 'scalespace'\nss.display(ss.ones{4, 1, 28, 28})", "mime": "image/png"},
        {"code": "require('scalespace.display')({{a = 1, b = 'x'}, {a = 2, b = 'y'}})", "mime": "text/html"},
        {"code": "require('scalespace.display').markdown('*hi*')", "mime": "text/markdown"},
    ]
    code_inspect_sample = "math.floor"
    code_clear_output = "require('scalespace.display').clear_output()"


if __name__ == "__main__":
    unittest.main()

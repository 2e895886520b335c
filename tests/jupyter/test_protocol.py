"""What the conformance suite does not check: interrupts (a JIT-compiled loop of library calls
stopped by Jupyter's SIGINT and by an interrupt_request on control), signatures (a message with
a bad or no signature is dropped and logged), the heartbeat (it echoes, also while a cell
runs), output while a cell runs (Lua's print and C's puts), locals kept between cells, and
shutdown (the process exits, status 0).

The kernel is started here as Jupyter starts it (its own process group, a connection file),
so the test holds its process, its log and its exit status. The time bounds (2 s to stop, 5 s
to shut down) are the liveness bounds of the protocol, not performance measurements.
Run by ctest as `/usr/bin/python3 -m unittest -v test_protocol` in tests/jupyter, with
SS_BUILD_DIR naming the build.
"""
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

BUILD = os.path.abspath(os.environ.get("SS_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build")))
EXE = os.path.join(BUILD, "scalespace")

# A JIT-compiled loop of FFI calls into the library (ss_affine through x:add_), after
# `traces` starts counting the traces LuaJIT compiles.
JIT_LOOP = """local ss = require "scalespace"
traces = 0
jit.attach(function(what) if what == "stop" then traces = traces + 1 end end, "trace")
local x = ss.zeros {16}
print("looping")
while true do x:add_(1) end"""


class Kernel:
    """A kernel process on a fresh connection file, with a client."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ss-kernel-")
        self.key = str(uuid.uuid4()).encode()
        self.conn_file, self.info = write_connection_file(
            os.path.join(self.dir, "connection.json"), ip="127.0.0.1", key=self.key)
        self.log_path = os.path.join(self.dir, "kernel.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([EXE, "--kernel", self.conn_file], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.kc = BlockingKernelClient(connection_file=self.conn_file)
        self.kc.load_connection_file()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code, timeout=60):
        """Runs a cell; returns the reply and its iopub messages up to `idle`."""
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=timeout)
        assert reply["parent_header"]["msg_id"] == msg_id
        return reply, self.outputs(msg_id)

    def outputs(self, msg_id, timeout=10):
        out = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out
            out.append(msg)

    def wait_for_stream(self, text, timeout):
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            if msg["msg_type"] == "stream" and text in msg["content"]["text"]:
                return

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        self.kc.stop_channels()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def stream_text(msgs, name="stdout"):
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == name)


def result_text(msgs):
    for m in msgs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"]["text/plain"]
    return None


class ProtocolTests(unittest.TestCase):
    def setUp(self):
        self.k = Kernel()

    def tearDown(self):
        self.k.close()

    def check_interrupted(self, start, how):
        # The loop never ends by itself, so any reply is the interrupt's doing; the timeout
        # only keeps a kernel that missed it from hanging the suite.
        reply = self.k.kc.get_shell_msg(timeout=60)
        waited = time.monotonic() - start
        self.assertEqual(reply["content"]["status"], "error", how)
        self.assertEqual(reply["content"]["ename"], "Interrupted", reply["content"])
        self.assertIn("interrupted", reply["content"]["evalue"])
        print(f"{how}: the JIT-compiled loop stopped {waited:.2f} s after the interrupt")
        # the kernel answers the next cell, and the loop had been compiled
        reply, out = self.k.execute("traces")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertGreater(int(result_text(out)), 0, "the loop ran as compiled traces")
        reply, out = self.k.execute("1 + 1")
        self.assertEqual(result_text(out), "2")

    def test_sigint_stops_a_jit_compiled_loop_of_library_calls(self):
        self.k.kc.execute(JIT_LOOP)
        self.k.wait_for_stream("looping", timeout=30)
        time.sleep(0.5)
        start = time.monotonic()
        os.killpg(self.k.proc.pid, signal.SIGINT)  # what Jupyter does for interrupt_mode "signal"
        self.check_interrupted(start, "SIGINT")

    def test_interrupt_request_on_control_stops_a_jit_compiled_loop(self):
        self.k.kc.execute(JIT_LOOP)
        self.k.wait_for_stream("looping", timeout=30)
        time.sleep(0.5)
        start = time.monotonic()
        msg = self.k.kc.session.msg("interrupt_request", {})
        self.k.kc.control_channel.send(msg)
        reply = self.k.kc.get_control_msg(timeout=10)
        self.assertEqual(reply["msg_type"], "interrupt_reply")
        self.assertEqual(reply["content"]["status"], "ok")
        self.check_interrupted(start, "interrupt_request")

    def test_sigint_stops_interpreted_code_and_is_ignored_between_cells(self):
        os.killpg(self.k.proc.pid, signal.SIGINT)  # idle: nothing to stop, the kernel lives on
        time.sleep(0.2)
        self.k.kc.execute("jit.off()\nprint('spinning')\nwhile true do end")
        self.k.wait_for_stream("spinning", timeout=30)
        start = time.monotonic()
        os.killpg(self.k.proc.pid, signal.SIGINT)
        reply = self.k.kc.get_shell_msg(timeout=60)  # the loop is endless: a reply is the interrupt
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        print(f"interpreted loop: stopped {time.monotonic() - start:.2f} s after SIGINT")
        reply, out = self.k.execute("jit.on()\nlocal state = 'alive'\nstate")
        self.assertEqual(result_text(out), "alive")

    def test_message_with_a_bad_signature_is_dropped_and_logged(self):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(f"tcp://127.0.0.1:{self.k.info['shell_port']}")
        try:
            for key in (b"not the key", b""):  # wrong key; no signature at all
                Session(key=key).send(sock, "kernel_info_request", {})
                self.assertEqual(sock.poll(1000), 0, f"a reply to a message signed with {key!r}")
            good = Session(key=self.k.key)
            good.send(sock, "kernel_info_request", {})
            self.assertNotEqual(sock.poll(10000), 0, "no reply to a well-signed message")
            _, msg = good.feed_identities(sock.recv_multipart())
            self.assertEqual(good.deserialize(msg)["msg_type"], "kernel_info_reply")
        finally:
            sock.close()
        self.assertEqual(self.k.log_text().count("bad signature"), 2, self.k.log_text())

    def test_heartbeat_echoes_also_while_a_cell_runs(self):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.connect(f"tcp://127.0.0.1:{self.k.info['hb_port']}")
        try:
            sock.send(b"ping 1")
            self.assertNotEqual(sock.poll(5000), 0, "no heartbeat")
            self.assertEqual(sock.recv(), b"ping 1")
            # the cell runs until the test has had its echo (a flag file), so the echo cannot
            # come from after the cell, however slow the machine
            flag = os.path.join(self.k.dir, "pinged")
            msg_id = self.k.kc.execute("local t = os.time() print('busy') while not io.open(%r) do "
                                       "assert(os.time() - t < 60, 'no flag') end" % flag)
            self.k.wait_for_stream("busy", timeout=30)
            sock.send(b"ping 2")
            self.assertNotEqual(sock.poll(30000), 0, "no heartbeat while the cell runs")
            self.assertEqual(sock.recv(), b"ping 2")
            open(flag, "w").close()
            self.assertEqual(self.k.kc.get_shell_msg(timeout=30)["parent_header"]["msg_id"], msg_id)
        finally:
            sock.close()

    def test_output_arrives_while_the_cell_runs(self):
        # The cell prints, then waits for a file that the test makes only once it has seen the
        # output: output held back until the end of the cell would leave both waiting (the
        # cell gives up after 60 s and the test fails), whatever the machine's speed.
        flag = os.path.join(self.k.dir, "seen")
        code = ("local ffi = require 'ffi'\nffi.cdef 'int puts(const char *s);'\n"
                "print('from Lua')\nffi.C.puts('from C')\n"
                "local t = os.time()\n"
                "while not io.open(%r) do assert(os.time() - t < 60, 'no flag') end\nprint('done')" % flag)
        msg_id = self.k.kc.execute(code)
        seen = ""
        while "from C" not in seen or "from Lua" not in seen:
            msg = self.k.kc.get_iopub_msg(timeout=60)
            if msg["msg_type"] == "stream":
                seen += msg["content"]["text"]
        open(flag, "w").close()
        self.assertLess(seen.index("from Lua"), seen.index("from C"), seen)
        reply = self.k.kc.get_shell_msg(timeout=60)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertIn("done", stream_text(self.k.outputs(msg_id)))

    def test_output_belongs_to_its_own_cell_when_cells_come_back_to_back(self):
        # Clients drop output whose parent is another cell; the kernel once published the first
        # bytes of a cell under the previous cell's header (a race between pipe and parent).
        sent = [(self.k.kc.execute("print('out %d')" % i if i % 2 else "x = %d" % i), i) for i in range(40)]
        for _ in sent:
            self.k.kc.get_shell_msg(timeout=30)
        for msg_id, i in sent:
            text = stream_text(self.k.outputs(msg_id))
            self.assertEqual(text, "out %d\n" % i if i % 2 else "", "cell %d" % (i + 1))

    def test_locals_survive_between_cells_and_errors_keep_the_state(self):
        self.k.execute("local kept = 41")
        reply, out = self.k.execute("error('on purpose')")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual([m["msg_type"] for m in out], ["status", "execute_input", "error"])
        reply, out = self.k.execute("kept + 1")
        self.assertEqual(result_text(out), "42")

    def test_a_cells_last_expression_is_its_result_and_a_last_statement_gives_none(self):
        for code, want in [
            ("local a = 1\nfunction f()\n  return a + 1\nend", None),  # ends with a block: no Out
            ("for i = 1, 2 do\nend\nf() * 10", "20"),
            ("f();", None),  # a trailing ; makes the call a statement: no Out
            ("f()", "2"),
            ("local t = {\n  1,\n  2,\n}\n#t", "2"),
            ("local big = {\n  x = 1,\n  y = 'two',\n}", None),
            ("local big = {\n  x = 1,\n}\nbig", "{x = 1}"),  # a local made global, then shown
            ("-- only a comment", None),
        ]:
            reply, out = self.k.execute(code)
            self.assertEqual(reply["content"]["status"], "ok", code)
            self.assertEqual(result_text(out), want, code)

    def test_shutdown_exits_within_5_seconds(self):
        self.k.execute("local ss = require 'scalespace'\nbig = ss.zeros {256, 256}")
        start = time.monotonic()
        self.k.kc.shutdown()
        reply = self.k.kc.get_control_msg(timeout=5)
        self.assertEqual(reply["msg_type"], "shutdown_reply")
        self.assertEqual(self.k.proc.wait(timeout=5), 0)
        print(f"shutdown: the process exited {time.monotonic() - start:.2f} s after the request")


if __name__ == "__main__":
    unittest.main()

"""Every notebook in notebooks/ runs headless (nbclient, the scalespace kernel) without an error
output and shows what it is there to show: its pictures (image/png), its tables (text/html
<table>) and, where it trains or loops, one progress bar that was updated in place (one output
holding <progress>, at its final value). The committed notebooks carry no outputs.

Run by ctest as `/usr/bin/python3 -m unittest -v test_notebooks` in tests/jupyter, with
JUPYTER_PATH pointing at the build's share/jupyter. Files the notebooks write go to a temporary
directory (SS_NOTEBOOK_OUT).
"""
import glob
import os
import re
import shutil
import tempfile
import time
import unittest

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "notebooks"))

# Per notebook: the least number of pictures and tables it shows, and how many progress bars.
EXPECTED = {
    "01_operators.ipynb": {"png": 3, "tables": 1, "bars": 0},
    "02_scale_spaces.ipynb": {"png": 5, "tables": 2, "bars": 1},
    "03_train_and_sample.ipynb": {"png": 7, "tables": 1, "bars": 1},
    "04_fid_sweep.ipynb": {"png": 2, "tables": 1, "bars": 1},
}


def outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


class NotebookTests(unittest.TestCase):
    def test_every_notebook_is_listed_and_committed_without_outputs(self):
        names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb")))
        self.assertEqual(names, sorted(EXPECTED))
        for name in names:
            nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
            nbformat.validate(nb)
            self.assertEqual(nb.metadata.kernelspec.name, "scalespace", name)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    self.assertEqual(cell.outputs, [], f"{name}: outputs are committed")
                    self.assertIsNone(cell.execution_count, name)

    def run_notebook(self, name):
        nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
        work = tempfile.mkdtemp(prefix="ss-notebook-")
        os.environ["SS_NOTEBOOK_OUT"] = work
        try:
            start = time.monotonic()
            # generous: the machines running the suite may be shared; the notebooks take seconds alone
            NotebookClient(nb, kernel_name="scalespace", timeout=900, resources={"metadata": {"path": work}}).execute()
            print(f"{name}: ran in {time.monotonic() - start:.1f} s")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return nb

    def check(self, name):
        nb = self.run_notebook(name)
        want = EXPECTED[name]
        errors = [f"{o.ename}: {o.evalue}" for o in outputs(nb) if o.output_type == "error"]
        self.assertEqual(errors, [], name)
        rich = [o for o in outputs(nb) if o.output_type in ("display_data", "execute_result")]
        pngs = [o for o in rich if "image/png" in o.data]
        tables = [o for o in rich if "<table>" in o.data.get("text/html", "")]
        bars = [o for o in rich if "<progress" in o.data.get("text/html", "")]
        print(f"{name}: {len(pngs)} pictures, {len(tables)} tables, {len(bars)} progress bars")
        self.assertGreaterEqual(len(pngs), want["png"], name)
        self.assertGreaterEqual(len(tables), want["tables"], name)
        self.assertEqual(len(bars), want["bars"], name)
        for o in pngs:
            self.assertTrue(o.data["image/png"].startswith("iVBORw0KGgo"), "base64 of a PNG signature")
        for o in bars:  # updated in place to the end: value = max
            m = re.search(r'<progress value="(\d+)" max="(\d+)"', o.data["text/html"])
            self.assertIsNotNone(m, o.data["text/html"])
            self.assertEqual(m.group(1), m.group(2), o.data["text/html"])
            self.assertIn("100.0%", o.data["text/plain"])
        return nb

    def test_01_operators(self):
        self.check("01_operators.ipynb")

    def test_02_scale_spaces(self):
        self.check("02_scale_spaces.ipynb")

    def test_03_train_and_sample(self):
        nb = self.check("03_train_and_sample.ipynb")
        text = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream")
        self.assertIn("samples after 40 steps", text)

    def test_04_fid_sweep(self):
        nb = self.check("04_fid_sweep.ipynb")
        text = "".join(o.get("text", "") for o in outputs(nb) if o.output_type == "stream")
        self.assertIn("measured 12 points, skipped 0", text)
        self.assertIn("second run: measured 0 points, skipped 12", text)


if __name__ == "__main__":
    unittest.main()

"""Every caller program in notebooks/ runs top to bottom (quick settings: VAEGAN_QUICK=1)."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO / "notebooks")) for p in NOTEBOOKS])
def test_notebook_runs(path, mnist_dir, monkeypatch):
    monkeypatch.setenv("VAEGAN_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel must use its inline backend
    monkeypatch.setenv("VAEGAN_DATA_DIR", str(mnist_dir))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
    client.execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(o.get("output_type") == "display_data" for c in notebook.cells for o in c.get("outputs", []))


def test_there_are_notebooks():
    assert (REPO / "notebooks" / "train_vae_mnist.ipynb") in NOTEBOOKS
    assert os.path.isdir(REPO / "notebooks")

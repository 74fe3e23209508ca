"""Every caller program in notebooks/ agrees with its source and runs top to bottom (VAEGAN_QUICK=1).

Each notebook runs as Jupyter runs it: from a copy in a temporary folder, with that
folder as working directory, and with XDG_CACHE_HOME (vaegan's and matplotlib's caches)
and IPYTHONDIR redirected there, so the test touches neither the repository nor the
user's caches.
"""

from __future__ import annotations

import importlib.util
import shutil

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)

NOTEBOOKS = sorted(p for p in (REPO / "notebooks").rglob("*.ipynb") if "outputs" not in p.parts)
SOURCES = {target: (source, notebook) for source, target, notebook in build_notebooks.sources()}
IDS = [str(p.relative_to(REPO / "notebooks")) for p in NOTEBOOKS]


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"train_vae_mnist.ipynb", "autoencoder_evolution.ipynb", "bring_your_own_images.ipynb"} <= names
    assert {"ad_cvae_2d.ipynb", "individual_disease_maps.ipynb"} <= names


def test_every_source_has_its_notebook():
    """A jupytext source without its .ipynb would escape the tests below (they run the committed .ipynb)."""
    missing = [str(source.relative_to(REPO)) for target, (source, _) in SOURCES.items() if target not in NOTEBOOKS]
    assert not missing, f"build them: python scripts/build_notebooks.py {' '.join(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_agrees_with_its_source(path):
    """The .py is what reviewers read; the .ipynb must hold the same code."""
    assert path in SOURCES, f"{path.name} has no source: pair it with jupytext (--set-formats ipynb,py:percent)"
    source, built = SOURCES[path]
    committed = nbformat.read(path, as_version=4)
    assert build_notebooks.code_cells(committed) == build_notebooks.code_cells(built), (
        f"{path.name} and {source.name} disagree; run python scripts/build_notebooks.py {source.relative_to(REPO)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_with_figures(path):
    notebook = nbformat.read(path, as_version=4)
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name}: no figures; build it"
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert path.stat().st_size < 1_500_000


def test_an_error_while_displaying_fails_the_run(tmp_path):
    """IPython turns an exception raised while displaying (a missing image, a figure failing as it draws)
    into an "error" output and ends the cell "ok": the run went on, and a broken figure was committed."""
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell(
                "from IPython.display import Image, display\ndisplay(Image('never_written.png'))"
            ),
            nbformat.v4.new_code_cell("x = 2"),
        ]
    )
    with pytest.raises(CellExecutionError) as raised:
        build_notebooks.execute(notebook, tmp_path, quick=True, timeout=60, name="demo.ipynb")
    message = str(raised.value)
    assert "demo.ipynb" in message and "cell 2" in message and "never_written.png" in message
    assert not notebook.cells[2].get("outputs") and notebook.cells[2].get("execution_count") is None  # it stopped
    notebook.cells[1].source = "raise KeyError('plain')"  # a cell that raises keeps nbclient's own report
    with pytest.raises(CellExecutionError, match="KeyError") as raised:
        build_notebooks.execute(notebook, tmp_path, quick=True, timeout=60, name="demo.ipynb")
    assert "displayed an error" not in str(raised.value)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One temporary home for every notebook's caches, so fonts and phantoms are built once."""
    root = tmp_path_factory.mktemp("notebooks")
    (root / "cache").mkdir()
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_from_its_own_folder(path, sandbox, mnist_dir, monkeypatch):
    folder = sandbox / path.parent.relative_to(REPO) / path.stem  # a fresh folder per notebook
    folder.mkdir(parents=True)
    copy = shutil.copy(path, folder / path.name)
    monkeypatch.setenv("VAEGAN_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(sandbox / "cache"))
    monkeypatch.setenv("IPYTHONDIR", str(sandbox / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(sandbox / "matplotlib"))
    notebook = nbformat.read(copy, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    build_notebooks.execute(notebook, folder, quick=True, timeout=300, name=str(path.relative_to(REPO)))
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    written = {p.name for p in folder.iterdir()} - {path.name}
    assert written <= {"outputs"}, f"{path.name} wrote {written} beside itself; write into outputs/"


@pytest.mark.parametrize("variable", ["__vsc_ipynb_file__", "__file__", None])
def test_outputs_go_beside_the_notebook_and_fresh_folders_never_repeat(variable, tmp_path, monkeypatch):
    import sys
    import types

    from vaegan.exercises import notebook_dir, notebook_outputs

    home, elsewhere = tmp_path / "notebooks", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    main = types.ModuleType("__main__")
    if variable:  # VS Code names the notebook; a jupytext script run with python has __file__
        (home / "nb.ipynb").write_text("{}")
        setattr(main, variable, str(home / "nb.ipynb"))
        monkeypatch.chdir(elsewhere)
    else:  # Jupyter: the kernel starts in the notebook's folder
        monkeypatch.chdir(home)
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert notebook_dir() == home.resolve()
    assert notebook_outputs("demo") == home.resolve() / "outputs" / "demo"
    first, second = notebook_outputs("study", fresh=True), notebook_outputs("study", fresh=True)
    assert first != second and first.parent == second.parent == home.resolve() / "outputs" / "study"
    assert not (elsewhere / "outputs").exists()

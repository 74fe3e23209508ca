"""Build the notebooks from their sources, execute them, and write each .ipynb with its outputs.

Sources, reviewed as plain Python: ``notebooks/**/*.py``, jupytext percent scripts, each paired
with the ``.ipynb`` beside it (``notebooks/AD/`` included).

Each notebook runs with its own folder as working directory (as Jupyter runs it), in
QUICK mode (``VAEGAN_QUICK=1``: a few hundred images, one epoch) unless ``--full``, and is
written back with its outputs, so a reader sees the figures without training anything.

Usage::

    python scripts/build_notebooks.py                      # every notebook, quick
    python scripts/build_notebooks.py notebooks/train_vae_mnist.py --full
    python scripts/build_notebooks.py --no-execute         # sources -> .ipynb, no outputs
    python scripts/build_notebooks.py notebooks/latent_space.py --text-only   # prose edits, outputs kept
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
MAX_BYTES = 1_500_000  # keep each committed notebook reviewable
FIGURE_DPI = 64  # modest PNGs: the figures read well and the notebooks stay small
NOISE = ("TqdmWarning: IProgress not found",)  # kernel warnings that say nothing about the notebook


def noise(output: nbformat.NotebookNode) -> bool:
    """Kernel warnings, and progress bars: a --full build's tqdm redraws, one output per update."""
    text = "".join(output.get("text", ""))
    redraw = output.get("name") == "stderr" and text.startswith("\r")
    return redraw or any(n in text for n in NOISE)


def is_jupytext_script(path: Path) -> bool:
    """A percent-format script paired with a notebook (its header names the formats)."""
    head = path.read_text(encoding="utf-8")[:600]
    return path.suffix == ".py" and "jupytext:" in head and "format_name: percent" in head


def sources(root: Path = NOTEBOOKS) -> Iterator[tuple[Path, Path, nbformat.NotebookNode]]:
    """(source, target .ipynb, the notebook built from source, unexecuted) for every notebook under ``root``."""
    import jupytext

    for script in sorted(root.resolve().rglob("*.py")):
        if "outputs" in script.parts or ".ipynb_checkpoints" in script.parts:
            continue
        if is_jupytext_script(script):
            yield script, script.with_suffix(".ipynb"), jupytext.read(script)


def selected(paths: list[Path], source: Path, target: Path) -> bool:
    """Whether a command line's paths (folders, sources or notebooks) name this notebook."""
    for path in (p.resolve() for p in paths):
        if path in (source, target) or (path.is_dir() and path in target.parents):
            return True
    return False


def code_cells(notebook: nbformat.NotebookNode) -> list[str]:
    """The code cells' sources, stripped: what must agree between a source and its .ipynb."""
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def displayed_error(cell: nbformat.NotebookNode, index: int, name: str) -> CellExecutionError | None:
    """The error a cell left among its outputs though it ended "ok", or None.

    IPython reports an exception raised while displaying (an image file that is missing, a figure
    failing as it draws) as an "error" output and lets the cell succeed.
    """
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return None
    first = errors[0]
    ename, evalue = first.get("ename", "Error"), first.get("evalue", "")
    line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    message = (
        f"{name}: cell {index + 1} ({line!r}) displayed an error, {ename}: {evalue.strip()}; fix that cell "
        "(a figure must draw, a displayed file must exist) and run the notebook again"
    )
    return CellExecutionError(message, ename, evalue)


def execute(
    notebook: nbformat.NotebookNode,
    folder: Path,
    *,
    quick: bool,
    timeout: int = 900,
    dpi: int | None = None,
    name: str | None = None,
) -> None:
    """Run every cell in a fresh kernel started in ``folder``; raise on the first failing cell.

    A cell fails when it raises, and also when it ends with an "error" among its outputs (an
    exception while displaying). ``name`` names the notebook in the error (by default ``folder``).
    ``dpi`` sets matplotlib's figure resolution in the kernel (a modest one keeps notebooks small).

    Raises:
        CellExecutionError: a cell raised, or displayed an error.
    """
    from nbclient import NotebookClient

    def check_outputs(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict | None = None) -> None:
        if execute_reply is not None and execute_reply["content"]["status"] == "error":
            return  # a cell that raised: nbclient reports it with its traceback
        error = displayed_error(cell, cell_index, name or str(folder))
        if error is not None:
            raise error

    env_before = {key: os.environ.get(key) for key in ("VAEGAN_QUICK", "MPLBACKEND", "MATPLOTLIBRC")}
    os.environ.pop("MPLBACKEND", None)  # the kernel must use its inline backend
    if dpi:
        rc = folder / ".matplotlibrc.tmp"
        rc.write_text(f"figure.dpi: {dpi}\n")
        os.environ["MATPLOTLIBRC"] = str(rc)
    if quick:
        os.environ["VAEGAN_QUICK"] = "1"
    else:
        os.environ.pop("VAEGAN_QUICK", None)
    try:
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
            record_timing=False,
            on_cell_executed=check_outputs,
        )
        client.execute()
    finally:
        if dpi:
            rc.unlink(missing_ok=True)
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build(target: Path, notebook: nbformat.NotebookNode, *, run: bool, quick: bool, timeout: int = 900) -> float:
    """Execute (optionally) and write ``target``; returns seconds spent."""
    start = time.perf_counter()
    if run:
        execute(
            notebook, target.parent, quick=quick, dpi=FIGURE_DPI, timeout=timeout, name=str(target.relative_to(REPO))
        )
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{target.stem[:40]}-{index}"  # from the source order, so a rebuild changes no ids
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not noise(o)]
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, target)
    size = target.stat().st_size
    if size > MAX_BYTES:
        print(f"warning: {target.relative_to(REPO)} is {size / 1e6:.1f} MB (keep it under 1.5 MB)", file=sys.stderr)
    return time.perf_counter() - start


def copy_text(source: nbformat.NotebookNode, target: Path) -> None:
    """Write ``source``'s markdown cells into the committed ``target``, its outputs kept.

    Raises:
        SystemExit: the cells or the code differ (the notebook must be executed again).
    """
    committed = nbformat.read(target, as_version=4)
    kinds = [(cell.cell_type, cell.source if cell.cell_type == "code" else "") for cell in source.cells]
    if kinds != [(cell.cell_type, cell.source if cell.cell_type == "code" else "") for cell in committed.cells]:
        raise SystemExit(f"{target.relative_to(REPO)}: its code differs from the source; build it without --text-only")
    for new, old in zip(source.cells, committed.cells):
        old.source = new.source
    nbformat.write(committed, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[NOTEBOOKS], help="sources or folders")
    parser.add_argument("--full", action="store_true", help="the notebooks' full settings (slow), not QUICK")
    parser.add_argument("--no-execute", action="store_true", help="write the .ipynb without running them")
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="copy the sources' markdown into the committed .ipynb, keeping its outputs (the code must be unchanged)",
    )
    parser.add_argument(
        "--timeout", type=int, help="seconds a cell may run (default 900, and 3600 with --full: a whole training)"
    )
    args = parser.parse_args(argv)
    timeout = args.timeout or (3600 if args.full else 900)
    for source, target, notebook in sources():
        if selected(args.paths, source, target) and args.text_only:
            copy_text(notebook, target)
            print(f"{target.relative_to(REPO)}: markdown from {source.relative_to(REPO)}, outputs kept")
        elif selected(args.paths, source, target):
            seconds = build(target, notebook, run=not args.no_execute, quick=not args.full, timeout=timeout)
            print(f"{target.relative_to(REPO)}: {seconds:.0f} s, {target.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

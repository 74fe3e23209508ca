"""What an ``--out`` may name: never one of a run's own files, nor an input the command reads.

A report written over ``checkpoints/last.pt``, samples over ``curves.png`` or the
per-epoch grids, a reconstruction over the image it reconstructs: each would
lose a file that cannot be made again. The commands check ``--out`` here before
they compute anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vaegan.foundation.errors import VaeganError
from vaegan.training.run_folder import is_run_dir, is_run_file


def check_out_file(
    out: str | Path,
    *,
    suffixes: tuple[str, ...] = (),
    own: str | None = None,
    run: Path | None = None,
    inputs: Iterable[Path] = (),
) -> Path:
    """``out`` as a Path, refused where it would replace a run's file (other than ``own``, the file this
    command writes into its own ``run``) or one of ``inputs``, or where its name does not end in ``suffixes``."""
    out = Path(out)
    if suffixes and not out.name.lower().endswith(suffixes):
        raise VaeganError(f"--out {out}: write a {' or '.join(suffixes)} file")
    ours = run is not None and out.name == own and out.absolute().parent.resolve() == Path(run).resolve()
    if is_run_file(out) and not ours:
        raise VaeganError(
            f"--out {out}: {out.name} is one of the run's own files in {out.parent}, which vaegan never "
            "writes over; choose another name"
        )
    target = out.resolve()
    for source in inputs:
        if Path(source).resolve() == target:
            raise VaeganError(f"--out {out}: is one of the input images; choose another name")
    return out


def check_out_folder(out: str | Path, run: Path) -> Path:
    """``out`` as a Path, refused where it is another run's folder or one inside it (its files would be replaced)."""
    out = Path(out)
    other = [folder for folder in (out, out.absolute().parent) if is_run_dir(folder)]
    if other and other[0].resolve() != Path(run).resolve():
        raise VaeganError(
            f"--out {out}: holds another run, whose files these would replace; choose a folder of its own"
        )
    return out

"""Where a notebook lives and where it writes, whatever the working directory.

Jupyter starts a notebook's kernel in the notebook's folder; VS Code names the
file in ``__vsc_ipynb_file__``; a jupytext script run with ``python`` has
``__file__``. Outputs go to ``<notebook folder>/outputs/<name>``, never to the
repository's ``outputs/`` where a user's own runs live.

Example:
    >>> out = notebook_outputs("train_vae_mnist")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def notebook_dir() -> Path:
    """The folder of the running notebook (or paired script); Jupyter's working directory otherwise."""
    main = sys.modules.get("__main__")
    for name in ("__vsc_ipynb_file__", "__file__"):
        value = getattr(main, name, None)
        if value and Path(value).suffix in (".ipynb", ".py") and Path(value).exists():
            return Path(value).resolve().parent
    return Path.cwd().resolve()  # Jupyter and nbclient start the kernel in the notebook's folder


def quick() -> bool:
    """True when ``VAEGAN_QUICK`` is set: tiny settings, seconds per notebook (what CI runs)."""
    return os.environ.get("VAEGAN_QUICK", "") not in ("", "0")


def notebook_outputs(name: str, *, fresh: bool = False) -> Path:
    """``<notebook folder>/outputs/<name>``; with ``fresh``, a new time-stamped folder inside it."""
    out = notebook_dir() / "outputs" / name
    if fresh:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        candidate, n = out / stamp, 1
        while candidate.exists():
            candidate, n = out / f"{stamp}-{n}", n + 1
        out = candidate
    out.mkdir(parents=True, exist_ok=True)
    return out

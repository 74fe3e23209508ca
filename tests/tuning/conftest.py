"""Fixtures for the tuning tests: a seconds-long MNIST study config and a throwaway PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml


def tiny_study(mnist_dir: Path, space: dict, **tune) -> dict:
    """A run config with a tune section: 300 MNIST images, a small MLP (or conv) VAE, 1 epoch, no TensorBoard."""
    return {
        "name": "tiny",
        "data": {"dataset": "mnist", "data_dir": str(mnist_dir), "limit": 300, "val_size": 0.2},
        "model": {"name": "vae", "latent_dim": 2, "network": {"kind": "mlp", "channels": [4, 8], "hidden": [32]}},
        "train": {
            "epochs": 1,
            "batch_size": 64,
            "grid_size": 16,
            "device": "cpu",
            "progress": False,
            "tensorboard": False,
        },
        "tune": {"metric": "val/loss", "direction": "minimize", "space": space, **tune},
    }


def write_yaml(data: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's /usr/lib/postgresql/<version>/bin (not on PATH)."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL cluster (initdb + pg_ctl in a temp folder), stopped and deleted after.

    It listens on a unix-domain socket in its own folder and on no TCP port, so no other
    process can take its address between choosing and binding it.
    Skips only when the server binaries are absent, unless VAEGAN_REQUIRE_POSTGRES=1 (set by .ci/run),
    where it fails: CI must run the multi-worker test.
    """
    bindir = _postgres_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found; `apt-get install postgresql` installs them"
        if os.environ.get("VAEGAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="vaegan-pg-"))  # not pytest's tmp_path: the server user must reach it
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root; Debian's package adds the 'postgres' account
        shutil.chown(root, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        _run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "vaegan", "--auth=trust", "--no-sync"])
        # the socket is ROOT/.s.PGSQL.5432, private to this folder; -F: no fsync, a throwaway cluster
        options = f"-k {root} -c listen_addresses='' -F"
        _run([*pg_ctl, "-l", str(root / "server.log"), "-o", options, "-w", "start"])
        yield f"postgresql://vaegan@/postgres?host={root}"  # as a user writes it; no driver named
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

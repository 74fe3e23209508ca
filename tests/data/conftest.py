"""Fixtures for the data tests: tiny IDX files written on the fly, an isolated environment, no network."""

from __future__ import annotations

import gzip
import hashlib
import struct
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from vaegan.data import idx, mnist, registry
from vaegan.data.mnist import IdxFamily, IdxFile

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``, written independently of the reader under test."""
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """Write ``array`` as IDX to ``path`` (gzipped if ``gz``) and return the path."""
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


class Toy:
    """A tiny MNIST-like family ("toy"): 40 train and 12 test 6x6 images, 4 classes; md5s of its own files."""

    name = "toy"

    def __init__(self, overrides: dict[str, np.ndarray] | None = None) -> None:
        rng = np.random.default_rng(0)
        self.arrays = {
            "train-images": rng.integers(0, 256, (40, 6, 6), dtype=np.uint8),
            "train-labels": (np.arange(40) % 4).astype(np.uint8),
            "test-images": rng.integers(0, 256, (12, 6, 6), dtype=np.uint8),
            "test-labels": (np.arange(12) % 4).astype(np.uint8),
        } | (overrides or {})
        md5 = {key: hashlib.md5(idx_bytes(a)).hexdigest() for key, a in self.arrays.items()}
        self.spec = IdxFamily(
            name=self.name,
            class_names=("a", "b", "c", "d"),
            train=(IdxFile("train-images", md5["train-images"]), IdxFile("train-labels", md5["train-labels"])),
            test=(IdxFile("test-images", md5["test-images"]), IdxFile("test-labels", md5["test-labels"])),
            mirrors=("https://mirror.invalid/toy/",),
        )

    def write(self, folder: Path, *, gz: bool = True, only: tuple[str, ...] | None = None) -> Path:
        """Write the four files (or those in ``only``) into ``folder``; return ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for key, array in self.arrays.items():
            if only is None or key in only:
                write_idx(folder / (f"{key}.gz" if gz else key), array, gz=gz)
        return folder


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every download attempt fails as if offline; the URLs tried are recorded."""
    tried: list[str] = []

    def offline(url: str, dest: Path, timeout: float, max_bytes: int | None = None) -> None:
        tried.append(url)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(idx, "_fetch", offline)
    return tried


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No VAEGAN_DATA_DIR, XDG_CACHE_HOME unset, HOME and the system root inside ``tmp_path``."""
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(mnist, "SYSTEM_DATA_ROOT", tmp_path / "system")
    return tmp_path


@pytest.fixture
def toy(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Toy:
    """The toy family, registered as dataset "toy" for the duration of a test."""
    family = Toy()
    entry = registry._Entry(partial(mnist.load, family.spec), partial(mnist.locate, family.spec))
    monkeypatch.setitem(registry._REGISTRY, family.name, entry)
    return family

"""Checkpoints: a full disk during atomic_save is 'the disk is full'; files vaegan did not write are named."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple

import pytest
import torch

from vaegan.cli import _file_problem
from vaegan.foundation import checkpoints
from vaegan.foundation.checkpoints import atomic_save, read_checkpoint
from vaegan.foundation.errors import CheckpointError

Usage = namedtuple("Usage", "total used free")
SHORT_WRITE = "[enforce fail at inline_container.cc:672] . unexpected pos 190784 vs 190676"


def failing_save(*args, **kwargs):
    raise RuntimeError(SHORT_WRITE)


def test_a_short_write_on_a_full_disk_is_the_disk_is_full(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints.torch, "save", failing_save)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
    with pytest.raises(OSError) as caught:
        atomic_save({"x": torch.zeros(3)}, tmp_path / "last.pt")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "last.pt")
    assert "the disk is full" in _file_problem(caught.value)
    assert not list(tmp_path.iterdir())  # no half-written temporary file left


def test_a_short_write_with_room_left_stays_what_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints.torch, "save", failing_save)
    with pytest.raises(RuntimeError, match="unexpected pos"):
        atomic_save({"x": torch.zeros(3)}, tmp_path / "last.pt")


@pytest.mark.parametrize("payload", [{"model": {"w": torch.zeros(2)}}, {"format": "other-1"}, [torch.zeros(2)]])
def test_a_file_torch_reads_but_vaegan_did_not_write_is_named(tmp_path, payload):
    path = tmp_path / "foreign.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="foreign.pt: not a vaegan checkpoint"):
        read_checkpoint(path)


def test_cuda_tensors_without_cuda_say_so(tmp_path, monkeypatch):
    path = tmp_path / "gpu.pt"
    torch.save({"format": "stand-in"}, path)  # a zip archive, as torch.save writes; its loading is faked below

    def cuda_only(*args, **kwargs):
        raise RuntimeError("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False")

    monkeypatch.setattr(torch, "load", cuda_only)
    with pytest.raises(CheckpointError, match="gpu.pt: holds CUDA tensors"):
        read_checkpoint(path, map_location=None)


def test_flipped_bytes_in_the_weights_are_caught_not_loaded(tmp_path):
    """torch.load reads a stored zip without checking its CRCs: a bit flipped on disk loaded as other weights."""
    path = tmp_path / "last.pt"
    weights = torch.linspace(0.0, 1.0, 4096)
    torch.save({"format": checkpoints.FORMAT, "model": {"w": weights}}, path)
    data = bytearray(path.read_bytes())
    at = data.index(weights[2000].numpy().tobytes())  # a byte inside the tensor's storage record
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="last.pt: not a readable checkpoint.*checksum"):
        read_checkpoint(path)

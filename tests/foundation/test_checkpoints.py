"""atomic_save on a full disk: torch's writer reports it as a RuntimeError, the user gets 'the disk is full'."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple

import pytest
import torch

from vaegan.cli import _file_problem
from vaegan.foundation import checkpoints
from vaegan.foundation.checkpoints import atomic_save

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

"""Atomic writes: a file rewritten keeps the permissions its owner gave it."""

from __future__ import annotations

import stat

from vaegan.foundation.files import write_text_atomic


def test_a_rewritten_file_keeps_its_mode(tmp_path):
    """codes.npz of patients' scans set to 0600 by its owner came back 0644 (the umask's) when rewritten."""
    private = tmp_path / "codes.txt"
    write_text_atomic(private, "first")
    private.chmod(0o600)
    write_text_atomic(private, "second")
    assert private.read_text() == "second" and stat.S_IMODE(private.stat().st_mode) == 0o600


def test_a_new_file_takes_the_umask(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640

"""read_idx and download_idx: valid files of every kind, and every way a file can be bad."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from vaegan.data import idx
from vaegan.data.idx import download_idx, read_idx
from vaegan.foundation.errors import DataError

from .conftest import idx_bytes, write_idx

IMAGES = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        IMAGES,
        np.arange(7, dtype=np.uint8),
        np.arange(-6, 6, dtype=np.int8).reshape(3, 4),
        np.arange(-50_000, 50_000, 10_000, dtype=np.int32).reshape(5, 2),
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
    ],
    ids=["uint8-3d", "uint8-1d", "int8", "int32", "float32"],
)
def test_reads_raw_and_gzip(tmp_path: Path, array: np.ndarray, gz: bool) -> None:
    path = write_idx(tmp_path / "x-idx", array, gz=gz)
    out = read_idx(path, expected_md5=hashlib.md5(idx_bytes(array)).hexdigest())
    assert out.shape == array.shape
    assert out.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    gz_without_suffix = write_idx(tmp_path / "images", IMAGES, gz=True)
    raw_with_suffix = write_idx(tmp_path / "images.gz", IMAGES, gz=False)
    np.testing.assert_array_equal(read_idx(gz_without_suffix), IMAGES)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), IMAGES)


def test_md5_is_of_uncompressed_content_and_case_insensitive(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "images.gz", IMAGES, gz=True)
    md5 = hashlib.md5(idx_bytes(IMAGES)).hexdigest()
    np.testing.assert_array_equal(read_idx(path, expected_md5=md5.upper()), IMAGES)


def _corrupt_gzip(data: bytes) -> bytes:
    compressed = bytearray(gzip.compress(data))
    compressed[len(compressed) // 2] ^= 0xFF  # a flipped byte inside the deflate stream
    return bytes(compressed)


GOOD = idx_bytes(IMAGES)
BAD_FILES = {
    # name: (file content, words the message must contain)
    "empty": (b"", "not an IDX file"),
    "zip magic": (b"PK\x03\x04" + GOOD[4:], "not an IDX file: it starts with bytes 50 4b 03 04"),
    "nonzero first bytes": (b"\x00\x01" + GOOD[2:], "not an IDX file"),
    "type code 0x0a": (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown data type code 0x0a"),
    "type code 0x07": (GOOD[:2] + b"\x07" + GOOD[3:], "unknown data type code 0x07"),
    "zero dimensions": (GOOD[:3] + b"\x00", "0 dimensions"),
    "truncated header": (GOOD[:9], "truncated: the header declares 3 dimensions"),
    "truncated payload": (GOOD[:-7], "truncated: header promises 5x4x3 = 60 bytes of uint8, file holds 53"),
    "trailing bytes": (GOOD + b"\x00\x01", "trailing data: header promises 5x4x3 = 60 bytes of uint8, file holds 62"),
    "truncated gzip": (gzip.compress(GOOD)[:-12], "truncated gzip stream"),
    "corrupt gzip": (_corrupt_gzip(GOOD), "corrupt gzip stream"),
    "gzip bad crc": (gzip.compress(GOOD)[:-8] + b"\x00" * 8, "corrupt gzip stream"),
    "truncated payload in gzip": (gzip.compress(GOOD[:-1]), "truncated: header promises"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_raises_data_error_naming_file(tmp_path: Path, case: str) -> None:
    content, words = BAD_FILES[case]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert words in message


def test_truncated_message_matches_the_documented_form(tmp_path: Path) -> None:
    header = bytes([0, 0, 0x08, 3]) + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + bytes(1000)))
    with pytest.raises(DataError, match="header promises 60000x28x28 = 47040000 bytes of uint8, file holds 1000$"):
        read_idx(path)


def test_multibyte_truncation_counts_values_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.int32))[:-2])
    with pytest.raises(DataError, match="4 = 4 values of int32 = 16 bytes, file holds 14"):
        read_idx(path)


def test_md5_mismatch(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: checksum mismatch: .* expected 0{{32}}"):
        read_idx(path, expected_md5="0" * 32)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'nope'))}: no such file"):
        read_idx(tmp_path / "nope")
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path))}: is a folder"):
        read_idx(tmp_path)


def _serving(contents: dict[str, bytes]):
    """A stand-in for idx._fetch that serves ``contents`` by URL and fails on others."""

    def fetch(url: str, dest: Path, timeout: float, max_bytes: int | None = None) -> None:
        if url not in contents:
            raise OSError(f"cannot reach {url}")
        dest.write_bytes(contents[url])

    return fetch


def test_download_verifies_then_places_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    damaged, good = gzip.compress(GOOD[:-1]), gzip.compress(GOOD)
    urls = ["https://a.invalid/x.gz", "https://b.invalid/x.gz", "https://c.invalid/x.gz"]
    monkeypatch.setattr(idx, "_fetch", _serving({urls[1]: damaged, urls[2]: good}))
    dest = tmp_path / "x.gz"
    assert download_idx(urls, dest, expected_md5=hashlib.md5(GOOD).hexdigest()) == dest
    np.testing.assert_array_equal(read_idx(dest), IMAGES)
    assert [p.name for p in tmp_path.iterdir()] == ["x.gz"]  # no temporary file left


def test_download_failure_lists_every_mirror_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = ["https://a.invalid/x.gz", "https://b.invalid/x.gz"]
    monkeypatch.setattr(idx, "_fetch", _serving({urls[1]: gzip.compress(GOOD)}))
    with pytest.raises(DataError) as info:
        download_idx(urls, tmp_path / "x.gz", expected_md5="0" * 32)
    message = str(info.value)
    assert "cannot reach https://a.invalid/x.gz" in message
    assert "https://b.invalid/x.gz: " in message and "checksum mismatch" in message
    assert list(tmp_path.iterdir()) == []

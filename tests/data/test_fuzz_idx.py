"""Property tests of the IDX reader: a damaged file loads the right data or raises DataError, nothing else."""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaegan.data.idx import read_idx
from vaegan.foundation.errors import DataError

from .conftest import IDX_CODES, idx_bytes

FUZZ = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def arrays(draw) -> np.ndarray:
    """Small arrays of every dtype the test writer knows, 1-3 dimensions."""
    dtype = draw(st.sampled_from(sorted(IDX_CODES, key=str)))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    values = np.random.default_rng(draw(st.integers(0, 2**16))).integers(-100, 100, shape)
    return values.astype(dtype)


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` truncated, with bits flipped, with bytes inserted or its header overwritten."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "header", "none"]))
    raw = bytearray(data)
    if kind == "truncate":
        return bytes(raw[: draw(st.integers(0, max(0, len(raw) - 1)))])
    if kind == "flip" and raw:
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] ^= 1 << draw(st.integers(0, 7))
    if kind == "insert":
        at = draw(st.integers(0, len(raw)))
        raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    if kind == "header":
        raw[: min(len(raw), 12)] = draw(st.binary(min_size=0, max_size=16))
    return bytes(raw)


def _read(content: bytes, md5: str | None) -> np.ndarray | DataError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file"
        path.write_bytes(content)
        try:
            return read_idx(path, expected_md5=md5)
        except DataError as error:
            assert str(path) in str(error) and "\n" not in str(error)  # one line, naming the file
            return error


@FUZZ
@given(array=arrays(), gz=st.booleans(), data=st.data())
def test_damaged_idx_loads_or_raises_data_error(array, gz, data):
    original = idx_bytes(array)
    stored = gzip.compress(original) if gz else original
    content = data.draw(damaged(stored))
    result = _read(content, None)
    if content == stored:
        assert isinstance(result, np.ndarray) and np.array_equal(result, array) and result.dtype == array.dtype
    # with the md5, the data must be exactly the original or the read must fail
    checked = _read(content, hashlib.md5(original).hexdigest())
    if isinstance(checked, np.ndarray):
        assert np.array_equal(checked, array) and checked.dtype == array.dtype


@FUZZ
@given(header=st.binary(min_size=0, max_size=40), payload=st.binary(max_size=64))
def test_arbitrary_headers_and_payloads(header, payload):
    """Random bytes that may claim any dtype, rank and shape (up to 2**32 per dimension)."""
    result = _read(header + payload, None)
    if isinstance(result, np.ndarray):
        assert result.nbytes + 4 + 4 * result.ndim == len(header + payload)

"""Reading IDX files, the format of MNIST and Fashion-MNIST, with every check that matters.

An IDX file is a 4-byte magic (two zero bytes, a data-type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order.
The files usually travel gzipped; gzip is detected by its magic bytes, never by
the file name. Every failure is a :class:`~vaegan.foundation.errors.DataError` that names
the file and says what is wrong; no partial array is ever returned.
:func:`download_idx` fetches a file from mirrors, verifies it and only then moves
it into place, so a cache never holds a partial download.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import math
import os
import shutil
import struct
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vaegan.foundation.errors import DataError

__all__ = ["download_idx", "read_idx"]

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> dtype of the stored values (multi-byte types are big-endian).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path, *, expected_md5: str | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a writable numpy array.

    Args:
        path: the file; gzip is recognised by its magic bytes, whatever the name.
        expected_md5: if given, the md5 hex digest that the *uncompressed*
            content (header included) must have.

    Returns:
        The array, shaped as the header says, in native byte order.

    Raises:
        DataError: the file is unreadable, not IDX, a corrupt gzip stream,
            truncated, followed by trailing data, or fails the checksum.

    Example:
        >>> labels = read_idx(Path("mnist/t10k-labels-idx1-ubyte.gz"))  # doctest: +SKIP
        >>> labels.shape, labels.dtype  # doctest: +SKIP
        ((10000,), dtype('uint8'))
    """
    path = Path(path)
    content = _read_content(path)
    dtype, shape, offset = _parse_header(path, content)
    _check_payload_size(path, content, dtype, shape, offset)
    if expected_md5 is not None:
        actual = hashlib.md5(content).hexdigest()
        if actual != expected_md5.lower():
            raise DataError(
                f"{path}: checksum mismatch: the md5 of the uncompressed content is "
                f"{actual}, expected {expected_md5.lower()}; the file is damaged or "
                "another version; replace it with a fresh copy"
            )
    array = np.frombuffer(content, dtype=dtype, count=math.prod(shape), offset=offset)
    array = array.reshape(shape)
    if dtype.byteorder == ">":  # multi-byte types: one copy to native order
        array = array.astype(dtype.newbyteorder("="))
    return array


def _read_content(path: Path) -> bytearray:
    """The uncompressed bytes of ``path``, as a bytearray so arrays over it are writable."""
    try:
        with path.open("rb") as f:
            raw = bytearray(path.stat().st_size)
            n = f.readinto(raw)
            del raw[n:]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an IDX file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from e
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return bytearray(gzip.decompress(raw))
    except EOFError:
        raise DataError(
            f"{path}: truncated gzip stream: the compressed data ends before its "
            "end-of-stream marker (an interrupted download or copy); fetch it again"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip stream ({e}); the file is damaged, fetch it again") from None


def _parse_header(path: Path, content: bytearray) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check the IDX magic; return the stored dtype, the shape and the header length."""
    if len(content) < 4:
        raise DataError(f"{path}: not an IDX file: {len(content)} bytes, shorter than the 4-byte IDX magic")
    zero0, zero1, code, ndim = content[:4]
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"{path}: not an IDX file: it starts with bytes {content[:4].hex(' ')}, "
            "an IDX file starts with 00 00 <type code> <number of dimensions>"
        )
    if code not in _IDX_DTYPES:
        valid = ", ".join(f"0x{c:02x} {_type_name(d)}" for c, d in _IDX_DTYPES.items())
        raise DataError(f"{path}: not an IDX file: unknown data type code 0x{code:02x} (valid codes: {valid})")
    if ndim == 0:
        raise DataError(f"{path}: not an IDX file: the header declares 0 dimensions")
    offset = 4 + 4 * ndim
    if len(content) < offset:
        raise DataError(
            f"{path}: truncated: the header declares {ndim} dimensions, which need "
            f"{offset} header bytes, file holds {len(content)}"
        )
    shape = struct.unpack(f">{ndim}I", content[4:offset])
    return _IDX_DTYPES[code], shape, offset


def _check_payload_size(path: Path, content: bytearray, dtype: np.dtype, shape: tuple[int, ...], offset: int) -> None:
    """Raise unless the data after the header is exactly what the header promises."""
    count = math.prod(shape)
    expected = count * dtype.itemsize
    held = len(content) - offset
    if held == expected:
        return
    dims = "x".join(str(d) for d in shape)
    if dtype.itemsize == 1:
        promise = f"{dims} = {expected} bytes of {_type_name(dtype)}"
    else:
        promise = f"{dims} = {count} values of {_type_name(dtype)} = {expected} bytes"
    if held < expected:
        raise DataError(f"{path}: truncated: header promises {promise}, file holds {held}")
    raise DataError(
        f"{path}: trailing data: header promises {promise}, file holds {held} ({held - expected} bytes too many)"
    )


def _type_name(dtype: np.dtype) -> str:
    return dtype.newbyteorder("=").name


def download_idx(urls: Sequence[str], dest: Path, *, expected_md5: str, timeout: float = 10.0) -> Path:
    """Fetch an IDX file from the first mirror that serves a valid copy.

    The file goes to a temporary name beside ``dest``, is checked with
    :func:`read_idx` against ``expected_md5``, and is then renamed to ``dest``
    (an atomic ``os.replace``).

    Args:
        urls: the file's address on each mirror, tried in order.
        dest: where the file goes.
        expected_md5: md5 of the uncompressed content.
        timeout: seconds to wait on each network operation.

    Returns:
        ``dest``.

    Raises:
        DataError: no mirror served a valid copy; the message lists each failure.
    """
    failures = []
    for url in urls:
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        tmp = Path(name)
        try:
            logger.info("downloading %s", url)
            _fetch(url, tmp, timeout)
            read_idx(tmp, expected_md5=expected_md5)
            os.replace(tmp, dest)
            return dest
        except (OSError, DataError, http.client.HTTPException) as e:
            failures.append(f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Copy ``url`` to ``dest``; tests replace this function to stay offline."""
    request = urllib.request.Request(url, headers={"User-Agent": "vaegan"})
    with (
        urllib.request.urlopen(request, timeout=timeout) as response,
        dest.open("wb") as out,
    ):
        shutil.copyfileobj(response, out, length=1 << 20)

"""Reading IDX files, the format of MNIST and Fashion-MNIST, with every check that matters.

An IDX file is a 4-byte magic (two zero bytes, a data-type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order.
The files usually travel gzipped; gzip is detected by its magic bytes, never by
the file name. Every failure is a :class:`~vaegan.foundation.errors.DataError` that names
the file and says what is wrong; no partial array is ever returned.
:func:`download_idx` fetches a file from mirrors (HTTPS first), stops a stream
that grows past twice the expected size, verifies it and only then moves it
into place, so a cache never holds a partial download. No file is decompressed
past a size cap, so a gzip bomb costs nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import logging
import math
import os
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
MAX_IDX_BYTES = 1 << 30  # read at most 1 GiB (uncompressed) unless told otherwise; MNIST's largest file is 47 MB

# IDX type code -> dtype of the stored values (multi-byte types are big-endian).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path, *, expected_md5: str | None = None, max_bytes: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a writable numpy array.

    Args:
        path: the file; gzip is recognised by its magic bytes, whatever the name.
        expected_md5: if given, the md5 hex digest that the *uncompressed*
            content (header included) must have.
        max_bytes: refuse a file, or a gzip stream that decompresses to, more
            than this (default :data:`MAX_IDX_BYTES`); a gzip bomb stops here.

    Returns:
        The array, shaped as the header says, in native byte order.

    Raises:
        DataError: the file is unreadable, too large, not IDX, a corrupt gzip
            stream, truncated, followed by trailing data, or fails the checksum.

    Example:
        >>> labels = read_idx(Path("mnist/t10k-labels-idx1-ubyte.gz"))  # doctest: +SKIP
        >>> labels.shape, labels.dtype  # doctest: +SKIP
        ((10000,), dtype('uint8'))
    """
    path = Path(path)
    content = _read_content(path, max_bytes or MAX_IDX_BYTES)
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


def _read_content(path: Path, max_bytes: int) -> bytearray:
    """The uncompressed bytes of ``path`` (at most ``max_bytes``), as a bytearray so arrays over it are writable."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"{path}: is {size} bytes, more than the {max_bytes} expected; use a fresh copy")
        with path.open("rb") as f:
            raw = bytearray(size)
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
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            content = bytearray(stream.read(max_bytes + 1))  # streamed: a gzip bomb stops at the cap
    except EOFError:
        raise DataError(
            f"{path}: truncated gzip stream: the compressed data ends before its "
            "end-of-stream marker (an interrupted download or copy); fetch it again"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise DataError(f"{path}: corrupt gzip stream ({e}); the file is damaged, fetch it again") from None
    if len(content) > max_bytes:
        raise DataError(f"{path}: decompresses to more than {max_bytes} bytes (a gzip bomb?); fetch it again")
    return content


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


def download_idx(
    urls: Sequence[str],
    dest: Path,
    *,
    expected_md5: str,
    expected_size: int | None = None,
    timeout: float = 10.0,
) -> Path:
    """Fetch an IDX file from the first mirror that serves a valid copy (HTTPS mirrors first).

    The file streams to a temporary name beside ``dest`` and stops at twice
    ``expected_size``; it is then checked with :func:`read_idx` against
    ``expected_md5`` (decompressing at most as much) and only then renamed to
    ``dest`` (an atomic ``os.replace``). A failed or partial download never
    replaces a file already there.

    Args:
        urls: the file's address on each mirror; HTTPS ones are tried first.
        dest: where the file goes.
        expected_md5: md5 of the uncompressed content.
        expected_size: size of the uncompressed content in bytes, if known.
        timeout: seconds to wait on each network operation.

    Returns:
        ``dest``.

    Raises:
        DataError: no mirror served a valid copy; the message lists each failure.
    """
    cap = 2 * expected_size if expected_size else MAX_IDX_BYTES
    failures = []
    for url in sorted(urls, key=lambda u: not u.lower().startswith("https://")):  # stable: mirror order kept
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(name)
        try:
            logger.info("downloading %s", url)
            _fetch(url, tmp, timeout, max_bytes=cap)
            read_idx(tmp, expected_md5=expected_md5, max_bytes=cap)
            os.replace(tmp, dest)
            return dest
        except (OSError, DataError, http.client.HTTPException, ValueError) as e:
            failures.append(f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


def _fetch(url: str, dest: Path, timeout: float, max_bytes: int | None = None) -> None:
    """Stream ``url`` to ``dest``, stopping past ``max_bytes``; tests replace this function to stay offline."""
    request = urllib.request.Request(url, headers={"User-Agent": "vaegan"})
    with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:
        announced = response.headers.get("Content-Length")
        if max_bytes and announced and announced.isdigit() and int(announced) > max_bytes:
            raise DataError(f"announces {announced} bytes, more than {max_bytes}, the cap for this file; skipped")
        total = 0
        while chunk := response.read(1 << 20):
            total += len(chunk)
            if max_bytes and total > max_bytes:
                raise DataError(f"more than {max_bytes} bytes, the cap for this file; stopped (a wrong mirror?)")
            out.write(chunk)

"""Downloads from a real (local) HTTP server: HTTPS first, a size cap while streaming, never a partial file."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vaegan.data import idx, mnist
from vaegan.data.idx import download_idx, read_idx
from vaegan.foundation.errors import DataError

from .conftest import idx_bytes

REAL_FETCH = idx._fetch  # conftest's no_network replaces it for every test
IMAGES = np.random.default_rng(1).integers(0, 256, (50, 8, 8), dtype=np.uint8)
GOOD = idx_bytes(IMAGES)
MD5 = hashlib.md5(GOOD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` by path; ``/endless.gz`` streams without end and without a Content-Length."""

    files: dict[str, bytes] = {}
    served: list[str] = []

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        self.served.append(self.path)
        if self.path == "/endless.gz":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(10_000):  # 640 MB if nobody stops reading
                    self.wfile.write(b"\x1f\x8b" + bytes(65534))
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(idx, "_fetch", REAL_FETCH)
    Handler.files, Handler.served = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_good_file_downloads(tmp_path: Path, server: str) -> None:
    Handler.files["/x.gz"] = gzip.compress(GOOD)
    dest = download_idx([f"{server}/x.gz"], tmp_path / "x.gz", expected_md5=MD5, expected_size=len(GOOD))
    np.testing.assert_array_equal(read_idx(dest), IMAGES)
    assert [p.name for p in tmp_path.iterdir()] == ["x.gz"]


def test_an_endless_stream_stops_at_the_size_cap(tmp_path: Path, server: str) -> None:
    with pytest.raises(DataError, match=r"endless.gz: more than 6400 bytes, the cap"):
        download_idx([f"{server}/endless.gz"], tmp_path / "x.gz", expected_md5=MD5, expected_size=3200)
    assert list(tmp_path.iterdir()) == []


def test_an_announced_oversize_is_refused_before_reading(tmp_path: Path, server: str) -> None:
    Handler.files["/big.gz"] = bytes(100_000)
    with pytest.raises(DataError, match="announces 100000 bytes, more than 6400"):
        download_idx([f"{server}/big.gz"], tmp_path / "x.gz", expected_md5=MD5, expected_size=3200)


def test_a_gzip_bomb_is_stopped_while_decompressing(tmp_path: Path) -> None:
    bomb = gzip.compress(GOOD[:16] + bytes(50_000_000))  # 50 MB of zeros in ~50 kB
    (tmp_path / "bomb.gz").write_bytes(bomb)
    with pytest.raises(DataError, match="decompresses to more than 100000 bytes"):
        read_idx(tmp_path / "bomb.gz", max_bytes=100_000)


def test_a_bad_download_never_replaces_a_good_file(tmp_path: Path, server: str) -> None:
    dest = tmp_path / "x.gz"
    dest.write_bytes(gzip.compress(GOOD))
    before = dest.read_bytes()
    Handler.files["/x.gz"] = gzip.compress(GOOD)[:-20]  # truncated in transit
    with pytest.raises(DataError, match="truncated"):
        download_idx([f"{server}/x.gz"], dest, expected_md5=MD5, expected_size=len(GOOD))
    assert dest.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.gz"]


def test_https_mirrors_are_tried_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []

    def fetch(url: str, dest: Path, timeout: float, max_bytes: int | None = None) -> None:
        tried.append(url)
        raise OSError("offline")

    monkeypatch.setattr(idx, "_fetch", fetch)
    with pytest.raises(DataError):
        download_idx(["http://a.invalid/x.gz", "https://b.invalid/x.gz"], tmp_path / "x.gz", expected_md5=MD5)
    assert tried == ["https://b.invalid/x.gz", "http://a.invalid/x.gz"]
    for family in (mnist.MNIST, mnist.FASHION_MNIST):
        assert family.mirrors[0].startswith("https://"), family.name
        assert all(f.size for f in family.files), family.name

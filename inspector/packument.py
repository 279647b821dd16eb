"""Package documents ("packuments") the registry sent, kept raw and read only when a diagnosis needs them.

When npm says ``ETARGET: No matching version found for lab-hello@^3``, the
useful answer is what the registry (or the company mirror) *does* have. The
capture keeps the last few package documents as the raw bytes it already
holds (no parsing on the proxy path: that would cost every install), bounded
by count and size; after the run, :func:`versions` reads the few that npm's
error names.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections import OrderedDict

MAX_DOCUMENTS = 256
MAX_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT = 4 * 1024 * 1024
_INFLATE_LIMIT = 64 * 1024 * 1024
MAX_VERSIONS = 200


class PackumentCache:
    """The most recent raw package documents by package name (thread-safe, bounded)."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS, max_bytes: int = MAX_BYTES) -> None:
        self._items: OrderedDict[str, tuple[bytes, str | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.max_documents = max_documents
        self.max_bytes = max_bytes

    def keep(self, package: str, raw: bytes, encoding: str | None) -> None:
        """Remember a document (called on the proxy's loop: O(1), no parsing)."""
        if not raw or len(raw) > MAX_DOCUMENT:
            return
        with self._lock:
            old = self._items.pop(package, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._items[package] = (raw, encoding)
            self._bytes += len(raw)
            while self._items and (len(self._items) > self.max_documents or self._bytes > self.max_bytes):
                _, (dropped, _) = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def get(self, package: str) -> tuple[bytes, str | None] | None:
        with self._lock:
            return self._items.get(package)

    def versions(self, package: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
        """(versions, dist-tags) of a kept document, or ``None`` when none was kept or it does not parse."""
        item = self.get(package)
        return versions(*item) if item else None


def versions(raw: bytes, encoding: str | None = None) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """The versions (at most :data:`MAX_VERSIONS`, newest last) and dist-tags of a raw package document."""
    data = _decode(raw, encoding)
    if data is None:
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    found = document.get("versions")
    names = tuple(str(v) for v in found) if isinstance(found, dict) else ()
    tags = document.get("dist-tags")
    dist_tags = tuple((str(k), str(v)) for k, v in tags.items()) if isinstance(tags, dict) else ()
    return names[-MAX_VERSIONS:], dist_tags


def _decode(raw: bytes, encoding: str | None) -> bytes | None:
    encoding = (encoding or "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, _INFLATE_LIMIT)
        if encoding == "deflate":
            return zlib.decompressobj().decompress(raw, _INFLATE_LIMIT)
        if encoding in ("", "identity"):
            return raw
        if encoding == "br":  # yarn berry and bun ask for brotli (measured: Verdaccio then sends it)
            return _brotli(raw)
        if encoding == "zstd":  # bun also offers zstd
            return _zstd(raw)
    except (zlib.error, gzip.BadGzipFile):
        return None
    return None


def _brotli(raw: bytes) -> bytes | None:
    """Brotli, inflated up to :data:`_INFLATE_LIMIT` (mitmproxy's own dependency; imported only when needed)."""
    import brotli

    try:
        out = brotli.Decompressor().process(raw, output_buffer_limit=_INFLATE_LIMIT)
    except brotli.error:
        return None
    return out if len(out) < _INFLATE_LIMIT else None


def _zstd(raw: bytes) -> bytes | None:
    """Zstandard, read up to :data:`_INFLATE_LIMIT` (mitmproxy's own dependency; imported only when needed)."""
    import io

    import zstandard

    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)) as reader:
            out = reader.read(_INFLATE_LIMIT)
    except zstandard.ZstdError:
        return None
    return out if len(out) < _INFLATE_LIMIT else None


def package_name(path: str) -> str | None:
    """The package a package-document request is for (``/@corp%2fsecret`` → ``@corp/secret``); ``None`` otherwise.

    Tarballs (``/name/-/name-1.0.0.tgz``) and API calls (``/-/whoami``) are not package documents.
    """
    from urllib.parse import unquote

    bare = path.split("?", 1)[0]
    if "/-/" in bare or bare.startswith("/-") or bare in ("", "/"):
        return None
    parts = [part for part in unquote(bare).split("/") if part]
    if not parts:
        return None
    if len(parts) >= 2 and parts[-2].startswith("@"):  # a registry under a path: /repository/npm/@corp/x
        return f"{parts[-2]}/{parts[-1]}"
    return None if parts[-1].startswith("@") else parts[-1]

"""Package documents are kept raw (bounded) on the proxy path and read only when npm's error names them."""

from __future__ import annotations

import gzip
import json

from inspector.packument import PackumentCache, package_name, versions

DOC = json.dumps({"name": "lab-hello", "dist-tags": {"latest": "1.1.0"}, "versions": {"1.0.0": {}, "1.1.0": {}}}).encode()


def test_versions_and_dist_tags_from_plain_and_gzip_documents():
    assert versions(DOC) == (("1.0.0", "1.1.0"), (("latest", "1.1.0"),))
    assert versions(gzip.compress(DOC), "gzip") == (("1.0.0", "1.1.0"), (("latest", "1.1.0"),))
    assert versions(b"<html>", None) is None and versions(b"\x00", "gzip") is None and versions(DOC, "br") is None


def test_the_cache_is_bounded_by_count_and_bytes():
    cache = PackumentCache(max_documents=2, max_bytes=10_000)
    for name in ("a", "b", "c"):
        cache.keep(name, DOC, None)
    assert cache.get("a") is None and cache.versions("c") == (("1.0.0", "1.1.0"), (("latest", "1.1.0"),))
    small = PackumentCache(max_documents=10, max_bytes=len(DOC) + 1)
    small.keep("a", DOC, None)
    small.keep("b", DOC, None)
    assert small.get("a") is None and small.get("b") is not None


def test_package_names_of_document_requests_only():
    assert package_name("/lab-hello") == "lab-hello"
    assert package_name("/@corp%2fsecret") == "@corp/secret"
    assert package_name("/repository/npm-group/@corp%2fui?write=true") == "@corp/ui"
    assert package_name("/lab-hello/-/lab-hello-1.0.0.tgz") is None
    assert package_name("/-/whoami") is None and package_name("/") is None


def test_brotli_and_zstd_documents_as_yarn_berry_and_bun_receive_them():
    """yarn berry and bun ask for ``br`` (bun also ``zstd``) and Verdaccio sends brotli (measured): still readable,
    and still bounded (a bomb gives nothing, not a 70 MB string)."""
    import brotli
    import zstandard

    doc = json.dumps({"versions": {"1.0.0": {}, "1.1.0": {}}, "dist-tags": {"latest": "1.1.0"}}).encode()
    expected = (("1.0.0", "1.1.0"), (("latest", "1.1.0"),))
    assert versions(brotli.compress(doc), "br") == expected
    assert versions(zstandard.ZstdCompressor().compress(doc), "zstd") == expected
    assert versions(b"not brotli", "br") is None and versions(b"not zstd", "zstd") is None
    assert versions(brotli.compress(b" " * (70 * 1024 * 1024)), "br") is None

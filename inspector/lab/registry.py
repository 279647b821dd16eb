"""The demo's registry: a small HTTPS npm registry on loopback, in this process.

It serves real packuments and tarballs (generated at start, with correct
integrity hashes) for a public side (``demo-*``) and a private scope
(``@demo-corp/*``) that needs a token, answering refusals the way Verdaccio
does (401 with ``WWW-Authenticate: Basic, Bearer``, 403 naming the user).
One server answers for every demo host name: the corporate proxy maps those
names to it, so nothing is ever looked up in DNS.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import ssl
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PUBLIC_HOST = "registry.demo.test"
MIRROR_HOST = "npm-mirror.demo-corp.test"
PRIVATE_HOST = "npm.demo-corp.test"
SCOPE = "@demo-corp"


@dataclass(frozen=True)
class DemoPackage:
    name: str
    version: str = "1.0.0"
    dependencies: dict[str, str] = field(default_factory=dict)
    private: bool = False


PACKAGES = (
    DemoPackage("demo-hello", dependencies={"demo-greet": "^1.0.0"}),
    DemoPackage("demo-greet"),
    DemoPackage(f"{SCOPE}/secret", private=True),
    DemoPackage(f"{SCOPE}/ui", dependencies={"demo-greet": "^1.0.0"}, private=True),
)


def _tarball(package: DemoPackage) -> bytes:
    manifest = {"name": package.name, "version": package.version, "main": "index.js", "license": "MIT", "dependencies": package.dependencies}
    files = {
        "package/package.json": json.dumps(manifest, indent=2).encode(),
        "package/index.js": f"module.exports = () => 'hello from {package.name}';\n".encode(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 499162500
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class Token:
    user: str
    value: str
    scopes: tuple[str, ...]


class RegistryState:
    """Packages and who may read the private scope."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = {t.value: t for t in tokens}
        self.tarballs = {p.name: _tarball(p) for p in PACKAGES}
        self.packages = {p.name: p for p in PACKAGES}
        self.requests = 0

    def packument(self, package: DemoPackage, host: str) -> dict:
        data = self.tarballs[package.name]
        filename = f"{package.name.split('/')[-1]}-{package.version}.tgz"
        version = {
            "name": package.name,
            "version": package.version,
            "dependencies": package.dependencies,
            "dist": {
                "tarball": f"https://{host}/{package.name}/-/{filename}",
                "shasum": hashlib.sha1(data).hexdigest(),
                "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
            },
        }
        return {"name": package.name, "dist-tags": {"latest": package.version}, "versions": {package.version: version}}


class _Handler(BaseHTTPRequestHandler):
    server_version = "demo-registry/1.0"
    state: RegistryState

    def log_message(self, format: str, *args) -> None:  # quiet: the dashboard shows the traffic
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Powered-By", "demo-registry (npm-inspect demo)")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state = self.state
        state.requests += 1
        host = (self.headers.get("host") or PUBLIC_HOST).split(":")[0]
        path = unquote(self.path.split("?", 1)[0])
        if path == "/-/ping":
            return self._json(200, {})
        if path == "/-/whoami":
            token = self._token()
            return self._json(200, {"username": token.user}) if token else self._json(401, {"error": "not logged in"})
        name, _, rest = path.lstrip("/").partition("/-/")
        package = state.packages.get(name)
        if package is None or (package.private and host != PRIVATE_HOST):
            return self._json(404, {"error": "not found"})
        if package.private:
            token = self._token()
            if token is None:
                return self._json(401, {"error": f"authorization required to access package {name}"}, {"WWW-Authenticate": "Basic, Bearer"})
            if SCOPE not in token.scopes:
                return self._json(403, {"error": f"user {token.user} is not allowed to access package {name}"})
        if rest:
            return self._send(200, state.tarballs[name], "application/octet-stream")
        return self._json(200, state.packument(package, self.headers.get("host") or host))

    do_HEAD = do_GET

    def _token(self) -> Token | None:
        value = self.headers.get("authorization") or ""
        scheme, _, secret = value.partition(" ")
        return self.state.tokens.get(secret.strip()) if scheme.lower() == "bearer" else None


class DemoRegistry:
    """The HTTPS registry server on a free loopback port, on its own thread."""

    def __init__(self, cert: str, key: str, tokens: list[Token]) -> None:
        self.state = RegistryState(tokens)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="demo-registry", daemon=True)

    def start(self) -> "DemoRegistry":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A real Verdaccio as the registry, over HTTP and (a second process, same storage) HTTPS.

Package rules: ``@corp/*`` is readable by ``alice`` only, so an anonymous
request gets 401 and ``bob`` gets 403; everything else is public.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from . import REGISTRY_HOST
from .packages import Package, publish, stored_document
from .pki import CertFiles
from .procs import ManagedProcess, free_port, wait_until

LAB_DIR = Path(__file__).resolve().parent
VERDACCIO_BIN = LAB_DIR / "node_modules" / "verdaccio" / "bin" / "verdaccio"

USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2"}


def installed() -> bool:
    return VERDACCIO_BIN.exists()


class Verdaccio:
    """Verdaccio on free loopback ports, with its own storage and users."""

    def __init__(
        self, workdir: Path, *, tls: CertFiles | None = None, ca: Path | None = None, packages: dict | None = None
    ):
        self.dir = workdir
        self.packages = packages or {
            "@corp/*": {"access": "alice", "publish": "alice"},
            "**": {"access": "$all", "publish": "$authenticated"},
        }
        self.tls = tls
        self.ca = ca
        self.http_port = free_port()
        self.https_port = free_port() if tls else None
        self.processes: list[ManagedProcess] = []
        self.tokens: dict[str, str] = {}

    def url(self, scheme: str = "http", host: str = REGISTRY_HOST) -> str:
        port = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://{host}:{port}/"

    @property
    def local_url(self) -> str:
        """Where the lab itself talks to Verdaccio: direct, never through a proxy."""
        return f"http://127.0.0.1:{self.http_port}/"

    def _write_config(self) -> Path:
        d = self.dir
        storage = d / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        db = storage / ".verdaccio-db.json"
        if not db.exists():  # one token secret shared by the HTTP and HTTPS processes
            db.write_text(json.dumps({"list": [], "secret": secrets.token_hex(16)}))
        config = {
            "storage": str(storage),
            "auth": {"htpasswd": {"file": str(d / "htpasswd"), "max_users": 1000}},
            "uplinks": {},
            "web": {"enable": False},
            "max_body_size": "1100mb",
            "packages": self.packages,
            "log": {"type": "file", "path": str(d / "verdaccio.log"), "format": "json", "level": "http"},
        }
        if self.tls:
            config["https"] = {"key": str(self.tls.key), "cert": str(self.tls.cert)}
            if self.ca:
                config["https"]["ca"] = str(self.ca)
        path = d / "config.yaml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    def start(self, timeout: float = 60.0) -> "Verdaccio":
        if not installed():
            raise RuntimeError(f"Verdaccio is not installed: run 'npm ci' in {LAB_DIR}")
        config = self._write_config()
        env = dict(os.environ, NODE_ENV="production")
        listens = [f"http://127.0.0.1:{self.http_port}"]
        if self.https_port:
            listens.append(f"https://127.0.0.1:{self.https_port}")
        for i, listen in enumerate(listens):
            self.processes.append(
                ManagedProcess(
                    ["node", str(VERDACCIO_BIN), "--config", str(config), "--listen", listen],
                    log=self.dir / f"verdaccio-{i}.out",
                    env=env,
                )
            )
        try:
            wait_until(self._ready, timeout=timeout, what="Verdaccio to answer /-/ping")
        except TimeoutError:
            tails = "\n".join(p.log_tail() for p in self.processes)
            self.stop()
            raise RuntimeError(f"Verdaccio did not start:\n{tails}") from None
        for user, password in USERS.items():
            self.tokens[user] = self.add_user(user, password)
        return self

    def _ready(self) -> bool:
        if any(not p.alive() for p in self.processes):
            raise RuntimeError("Verdaccio exited:\n" + "\n".join(p.log_tail() for p in self.processes))
        ports = [self.http_port] + ([self.https_port] if self.https_port else [])
        if not all(process.listens_on(port) for process, port in zip(self.processes, ports)):
            return False  # not ours (yet): another test run may hold the port
        ok = _get(f"http://127.0.0.1:{self.http_port}/-/ping")
        if ok and self.https_port:
            ok = _https_ready(self.https_port)
        return ok

    def add_user(self, name: str, password: str) -> str:
        """Create (or log in) a user and return its token, as ``npm login`` does."""
        import base64

        body = json.dumps({"name": name, "password": password, "type": "user", "roles": []}).encode()
        url = f"{self.local_url}-/user/org.couchdb.user:{name}"
        status, answer = _put(url, body, {"content-type": "application/json"})
        if status == 409:  # exists: log in instead
            basic = base64.b64encode(f"{name}:{password}".encode()).decode()
            status, answer = _put(url, body, {"content-type": "application/json", "authorization": f"Basic {basic}"})
        if status >= 300:
            raise RuntimeError(f"Verdaccio refused user {name}: {status} {answer[:300]!r}")
        return json.loads(answer)["token"]

    def publish(self, *packages: Package, user: str = "alice") -> None:
        for package in packages:
            publish(self.local_url, self.tokens[user], package)

    def seed(self, *packages: Package) -> None:
        """Write packages straight into the storage, as a publish would leave them (fast: for benches with
        thousands of packages). Call it before :meth:`start`: a running Verdaccio keeps its package list in
        memory."""
        if self.processes:
            raise RuntimeError("seed Verdaccio's storage before starting it")
        self._write_config()
        storage = self.dir / "storage"
        for package in packages:
            document, filename, tarball = stored_document(package, self.local_url)
            folder = storage / package.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "package.json").write_text(json.dumps(document))
            (folder / filename).write_bytes(tarball)
        db_path = storage / ".verdaccio-db.json"
        db = json.loads(db_path.read_text())
        db["list"] = sorted({*db["list"], *(p.name for p in packages)})
        db_path.write_text(json.dumps(db))

    def log_lines(self) -> list[dict]:
        """Verdaccio's JSON log (one object per request at level http)."""
        path = self.dir / "verdaccio.log"
        entries = []
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    continue
        return entries

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()


def _put(url: str, body: bytes, headers: dict[str, str], attempts: int = 5) -> tuple[int, bytes]:
    """PUT straight to Verdaccio; retries its passing 422/5xx answers right after start (bounded)."""
    import time

    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with _opener().open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read()
            if status not in (422, 500, 502, 503) or attempt == attempts - 1:
                return status, answer
        time.sleep(0.2 * (attempt + 1))
    return 0, b""


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> bool:
    try:
        with _opener().open(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _https_ready(port: int) -> bool:
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            with context.wrap_socket(sock, server_hostname=REGISTRY_HOST):
                return True
    except OSError:
        return False


def count_requests(registry: "Verdaccio", method: str = "GET") -> int:
    """Requests Verdaccio logged receiving (one "requested" line each)."""
    return sum(1 for entry in registry.log_lines() if f"requested '{method} " in str(entry.get("msg", "")))

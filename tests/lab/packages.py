"""Build real npm package tarballs in memory and publish them the way ``npm publish`` does."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass
class Package:
    name: str
    version: str = "1.0.0"
    dependencies: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def manifest(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "description": f"lab package {self.name}",
            "main": "index.js",
            "license": "MIT",
            "dependencies": self.dependencies,
        }

    def tarball(self) -> bytes:
        files = {"package/package.json": json.dumps(self.manifest(), indent=2).encode()}
        files["package/index.js"] = f"module.exports = {json.dumps(self.name)};\n".encode()
        files.update({f"package/{k}": v for k, v in self.files.items()})
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
            for path, data in sorted(files.items()):
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 499162500  # npm's fixed mtime
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def publish_document(package: Package, registry: str) -> dict:
    """The JSON body of ``PUT /<name>`` as npm sends it."""
    tarball = package.tarball()
    filename = f"{package.name.split('/')[-1]}-{package.version}.tgz"
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    version = package.manifest() | {
        "_id": f"{package.name}@{package.version}",
        "dist": {
            "shasum": hashlib.sha1(tarball).hexdigest(),
            "integrity": integrity,
            "tarball": f"{registry.rstrip('/')}/{package.name}/-/{filename}",
        },
    }
    return {
        "_id": package.name,
        "name": package.name,
        "description": version["description"],
        "dist-tags": {"latest": package.version},
        "versions": {package.version: version},
        "access": None,
        "_attachments": {
            filename: {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(tarball).decode(),
                "length": len(tarball),
            }
        },
    }


def stored_document(package: Package, registry: str) -> tuple[dict, str, bytes]:
    """What Verdaccio's local storage holds after a publish: ``package.json``, the tarball's file name and bytes.

    Writing these straight into the storage (see :meth:`tests.lab.verdaccio.Verdaccio.seed`) takes milliseconds
    per package where a publish over HTTP takes ~0.1–0.2 s: what a bench with a thousand packages needs.
    """
    document = publish_document(package, registry)
    ((filename, attachment),) = document.pop("_attachments").items()
    tarball = base64.b64decode(attachment["data"])
    version = document["versions"][package.version]
    stamp = "2020-01-01T00:00:00.000Z"
    stored = {
        "name": package.name,
        "versions": document["versions"],
        "time": {"modified": stamp, "created": stamp, package.version: stamp},
        "users": {},
        "dist-tags": document["dist-tags"],
        "_uplinks": {},
        "_distfiles": {},
        "_attachments": {filename: {"shasum": version["dist"]["shasum"], "version": package.version}},
        "_rev": "1-0000000000000000",
        "_id": package.name,
        "readme": "",
    }
    return stored, filename, tarball


def publish(registry: str, token: str, package: Package) -> None:
    """Publish straight to the registry (not through any proxy)."""
    from .verdaccio import _put

    body = json.dumps(publish_document(package, registry)).encode()
    url = f"{registry.rstrip('/')}/{quote(package.name, safe='@')}"
    status, answer = _put(url, body, {"content-type": "application/json", "authorization": f"Bearer {token}"})
    if status == 409 and _has_version(url, token, package.version):
        return  # a retried PUT (Verdaccio answered 5xx under load, yet stored the first one)
    if status >= 300:
        raise RuntimeError(f"publishing {package.name}@{package.version} failed: {status} {answer[:300]!r}")


def _has_version(url: str, token: str, version: str) -> bool:
    import urllib.request

    from .verdaccio import _opener

    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}", "accept": "application/json"})
    try:
        with _opener().open(request, timeout=30) as response:
            return version in json.loads(response.read()).get("versions", {})
    except (OSError, ValueError):
        return False


def tree(count: int, prefix: str = "lab-dep") -> tuple[Package, list[Package]]:
    """A root package depending on ``count`` leaf packages, all in the same flat tree."""
    leaves = [Package(f"{prefix}-{i:03d}") for i in range(count)]
    root = Package(f"{prefix}-root", dependencies={p.name: "^1.0.0" for p in leaves})
    return root, leaves


def layered_tree(groups: int, per_group: int, prefix: str = "lab-big") -> tuple[Package, list[Package]]:
    """A root depending on ``groups`` packages, each depending on ``per_group`` leaves of its own (two levels, like a
    real app's tree): ``1 + groups + groups × per_group`` packages in all. Returns the root and all the others."""
    others: list[Package] = []
    for g in range(groups):
        leaves = [Package(f"{prefix}-g{g:02d}-{i:03d}") for i in range(per_group)]
        group = Package(f"{prefix}-g{g:02d}", dependencies={p.name: "^1.0.0" for p in leaves})
        others.extend([*leaves, group])
    root = Package(f"{prefix}-root", dependencies={f"{prefix}-g{g:02d}": "^1.0.0" for g in range(groups)})
    return root, others

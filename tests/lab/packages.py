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


def publish(registry: str, token: str, package: Package) -> None:
    """Publish straight to the registry (not through any proxy)."""
    from .verdaccio import _put

    body = json.dumps(publish_document(package, registry)).encode()
    url = f"{registry.rstrip('/')}/{quote(package.name, safe='@')}"
    status, answer = _put(url, body, {"content-type": "application/json", "authorization": f"Bearer {token}"})
    if status >= 300:
        raise RuntimeError(f"publishing {package.name}@{package.version} failed: {status} {answer[:300]!r}")


def tree(count: int, prefix: str = "lab-dep") -> tuple[Package, list[Package]]:
    """A root package depending on ``count`` leaf packages, all in the same flat tree."""
    leaves = [Package(f"{prefix}-{i:03d}") for i in range(count)]
    root = Package(f"{prefix}-root", dependencies={p.name: "^1.0.0" for p in leaves})
    return root, leaves

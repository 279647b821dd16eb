"""Shared set-up for the bench scripts: the test lab (Squid + Verdaccio) with a published tree."""

from __future__ import annotations

import contextlib
import shutil
import signal
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lab import REGISTRY_HOST  # noqa: E402
from tests.lab.packages import layered_tree, tree  # noqa: E402
from tests.lab.pki import CertFiles, make_ca, make_server_cert  # noqa: E402
from tests.lab.squid import Squid, SquidConfig  # noqa: E402
from tests.lab.verdaccio import Verdaccio  # noqa: E402


@dataclass
class Lab:
    tmp: Path
    ca: CertFiles
    verdaccio: Verdaccio
    squid: Squid
    root_package: str
    package_count: int


@contextlib.contextmanager
def lab(
    packages: int, prefix: str = "bench-dep", squid: SquidConfig | None = None, *, layers: tuple[int, int] | None = None
) -> Iterator[Lab]:
    """Squid and Verdaccio (HTTPS) with a published tree: a root and ``packages`` leaves, published over HTTP;
    or, with ``layers=(groups, per_group)``, a two-level tree of ``1 + groups × (1 + per_group)`` packages written
    straight into Verdaccio's storage (a thousand packages in a second or two instead of minutes)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` and kill: still stop Squid and Verdaccio
    tmp = Path(tempfile.mkdtemp(prefix="npm-inspect-bench-"))
    ca = make_ca(tmp / "pki")
    server = make_server_cert(tmp / "pki", ca, [REGISTRY_HOST, "127.0.0.1"], "registry")
    registry = Verdaccio(tmp / "verdaccio", tls=server, ca=ca.cert)
    if layers:
        root, others = layered_tree(*layers, prefix)
        registry.seed(*others, root)
    registry.start()
    proxy = None
    try:
        if not layers:
            root, others = tree(packages, prefix)
            registry.publish(*others, root)
        proxy = Squid(squid or SquidConfig()).start()
        yield Lab(tmp, ca, registry, proxy, root.name, len(others) + 1)
    finally:
        if proxy is not None:
            proxy.cleanup()
        registry.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

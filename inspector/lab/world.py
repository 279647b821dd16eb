"""A demo world: the demo registry, a corporate proxy for one scenario, and npm's own temporary config.

Everything listens on 127.0.0.1 free ports and lives in one temporary
directory that is removed at the end. The corporate proxy is a second
mitmproxy, in a child process: mitmproxy keeps its options in module-level
state, so two masters cannot share one process.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .net import free_port, port_open
from .pki import make_ca, make_intermediate_ca, make_server_cert, write_mitmproxy_ca
from .registry import MIRROR_HOST, PRIVATE_HOST, PUBLIC_HOST, DemoRegistry, Token
from .scenarios import Scenario

HERE = Path(__file__).resolve().parent


class DemoLab:
    """What all scenarios share: CAs, tokens and the registry server."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="npm-inspect-demo-"))
        self.alice = "npm_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "B")[:36]
        self.guest = "npm_" + secrets.token_urlsafe(27).replace("-", "C").replace("_", "D")[:36]
        pki = self.root / "pki"
        self.registry_ca = make_ca(pki / "public", "Demo Public Root CA", "npm-inspect demo")
        cert = make_server_cert(pki / "public", self.registry_ca, [PUBLIC_HOST, MIRROR_HOST, PRIVATE_HOST, "127.0.0.1"], "registry")
        corp_root = make_ca(pki / "corp", "Demo Corp Root CA", "Demo Corp IT")
        self.corp_ca = make_intermediate_ca(pki / "corp", corp_root, "Demo Corp SSL Inspection CA")
        self.corp_root = corp_root
        self.registry = DemoRegistry(str(cert.cert), str(cert.key), [Token("alice", self.alice, ("@demo-corp",)), Token("guest", self.guest, ())])
        self._started = False

    def start(self) -> "DemoLab":
        if not self._started:
            self.registry.start()
            self._started = True
        return self

    def world(self, scenario: Scenario) -> "DemoWorld":
        return DemoWorld(self, scenario)

    def stop(self) -> None:
        if self._started:
            self.registry.stop()
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class CorporateProxyProcess:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(10)


class DemoWorld:
    """One scenario's network and npm config."""

    def __init__(self, lab: DemoLab, scenario: Scenario) -> None:
        self.lab = lab
        self.scenario = scenario
        self.dir = Path(tempfile.mkdtemp(prefix=f"{scenario.name}-", dir=lab.root))
        self.project = self.dir / "project"
        self.project.mkdir()
        (self.project / "package.json").write_text('{"name": "demo-app", "version": "1.0.0", "private": true}\n')
        self.userconfig = self.dir / "npmrc"
        self.globalconfig = self.dir / "global-npmrc"
        self.globalconfig.write_text("")
        self.proxy: CorporateProxyProcess | None = None

    def start_proxy(self) -> CorporateProxyProcess:
        """Start the corporate proxy (returns at once; :meth:`wait_for_proxy` waits until it listens)."""
        s = self.scenario
        port = free_port()
        confdir = self.dir / "corp-proxy"
        write_mitmproxy_ca(confdir, self.lab.corp_ca, self.lab.corp_root.cert)
        hosts = {name: self.lab.registry.port for name in (PUBLIC_HOST, MIRROR_HOST, PRIVATE_HOST)}
        config = {"hosts": hosts, "deny": list(s.deny), "auth": f"{_user(s)}:{s.fix_values.get('password', '')}" if s.proxy_auth else None}
        argv = [
            sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()",
            "-q", "--listen-host", "127.0.0.1", "-p", str(port),
            "-s", str(HERE / "corporate_proxy.py"),
            "--set", f"confdir={confdir}",
            "--set", f"ssl_verify_upstream_trusted_ca={self.lab.registry_ca.cert}",
            "--set", "connection_strategy=lazy",
        ]
        if not s.resign:
            argv += ["--ignore-hosts", ".*"]
        env = dict(os.environ, NPM_INSPECT_DEMO_PROXY=json.dumps(config))
        log = open(self.dir / "corp-proxy.log", "ab")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()
        self.proxy = CorporateProxyProcess(process, port)
        return self.proxy

    def wait_for_proxy(self, timeout: float = 30.0) -> None:
        assert self.proxy is not None
        deadline = time.monotonic() + timeout
        while not port_open(self.proxy.port, timeout=0.3):
            if self.proxy.process.poll() is not None:
                raise RuntimeError("the demo's corporate proxy exited at start: " + (self.dir / "corp-proxy.log").read_text()[-500:])
            if time.monotonic() > deadline:
                raise RuntimeError("the demo's corporate proxy did not start within 30 s")
            time.sleep(0.05)

    def write_npmrc(self) -> None:
        assert self.proxy is not None
        values = {"ca": str(self.lab.registry_ca.cert), "proxy": self.proxy.url, "alice": self.lab.alice, "guest": self.lab.guest}
        self.userconfig.write_text("".join(line.format(**values) + "\n" for line in self.scenario.npmrc))

    def start(self) -> "DemoWorld":
        self.lab.start()
        self.start_proxy()
        self.write_npmrc()
        self.wait_for_proxy()
        return self

    @property
    def argv(self) -> list[str]:
        return ["npm", *self.scenario.npm_args]

    def npm_env(self) -> dict[str, str]:
        """npm's environment: the demo's own config files and cache, no proxy variables of the machine."""
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_") and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
        env.update(
            npm_config_userconfig=str(self.userconfig),
            npm_config_globalconfig=str(self.globalconfig),
            npm_config_cache=str(self.dir / "cache"),
            npm_config_update_notifier="false",
            npm_config_fund="false",
            npm_config_audit="false",
            npm_config_fetch_retries="0",
            npm_config_package_lock="false",
        )
        return env

    def fix_values(self) -> dict[str, str]:
        values = {"alice": self.lab.alice}
        return {k: v.format(**values) for k, v in self.scenario.fix_values.items()}

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None


def _user(scenario: Scenario) -> str:
    return scenario.fix_values.get("user", "demo-user")

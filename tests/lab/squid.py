"""A real Squid as the corporate proxy, configurable per test.

Squid resolves the lab's registry name from its own ``hosts_file`` and asks
no DNS server but 127.0.0.1, so no lookup ever leaves the machine.
"""

from __future__ import annotations

import shutil
import tempfile
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import REGISTRY_HOST
from .procs import ManagedProcess, free_port, port_open, wait_until

SQUID = shutil.which("squid") or "/usr/sbin/squid"
HELPERS = Path("/usr/lib/squid")


@dataclass
class SquidConfig:
    """What the corporate proxy allows. The defaults give an open proxy."""

    users: dict[str, str] = field(default_factory=dict)
    """Basic credentials required when not empty (``basic_ncsa_auth`` + htpasswd)."""
    ntlm_only: bool = False
    """Offer only ``Proxy-Authenticate: NTLM`` (Squid's ``ntlm_fake_auth`` test helper)."""
    deny_hosts: list[str] = field(default_factory=list)
    """Hosts the proxy refuses with 403 (CONNECT and plain HTTP)."""
    hosts: dict[str, str] = field(default_factory=lambda: {REGISTRY_HOST: "127.0.0.1"})
    """Names only Squid resolves."""
    realm: str = "Lab Corporate Proxy"
    extra: list[str] = field(default_factory=list)
    """More squid.conf lines (e.g. ``reply_header_add``)."""


class Squid:
    """One Squid process on a free loopback port with its own directory."""

    def __init__(self, config: SquidConfig | None = None, port: int | None = None):
        # Squid drops to the 'proxy' user, who cannot enter pytest's 0700 temp dirs:
        # it gets its own world-traversable directory under /tmp, removed by cleanup().
        self.dir = Path(tempfile.mkdtemp(prefix="npm-inspect-squid-"))
        self.config = config or SquidConfig()
        self.port = port or free_port()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        from urllib.parse import quote

        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.dir / "access.log"

    def _write_config(self) -> Path:
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o777)  # Squid drops to the 'proxy' user after binding
        (d / "hosts").write_text("".join(f"{ip} {name}\n" for name, ip in self.config.hosts.items()))
        for name in ("access.log", "cache.log"):
            (d / name).touch()
            (d / name).chmod(0o666)
        (d / "squid.pid").unlink(missing_ok=True)  # a stale pid file blocks the next start
        lines = [
            f"http_port 127.0.0.1:{self.port}",
            f"pid_filename {d}/squid.pid",
            f"cache_log {d}/cache.log",
            f"access_log stdio:{d}/access.log squid",
            "cache deny all",
            "cache_mem 8 MB",
            f"coredump_dir {d}",
            f"hosts_file {d}/hosts",
            "dns_nameservers 127.0.0.1",
            "dns_timeout 2 seconds",
            "connect_timeout 5 seconds",
            "shutdown_lifetime 0 seconds",
            "visible_hostname lab-proxy",
            "pinger_enable off",
            "cache_effective_user proxy",
            "client_persistent_connections on",
            "server_persistent_connections on",
        ]
        if self.config.ntlm_only:
            lines += [
                f"auth_param ntlm program {HELPERS}/ntlm_fake_auth",
                "auth_param ntlm children 2",
                "acl authed proxy_auth REQUIRED",
            ]
        elif self.config.users:
            passwd = d / "passwd"
            passwd.unlink(missing_ok=True)
            for user, password in self.config.users.items():
                flags = "-bc" if not passwd.exists() else "-b"
                subprocess.run(["htpasswd", flags, str(passwd), user, password], check=True, capture_output=True)
            passwd.chmod(0o644)
            lines += [
                f"auth_param basic program {HELPERS}/basic_ncsa_auth {passwd}",
                "auth_param basic children 3",
                f"auth_param basic realm {self.config.realm}",
                "acl authed proxy_auth REQUIRED",
            ]
        if self.config.ntlm_only or self.config.users:
            lines.append("http_access deny !authed")
        if self.config.deny_hosts:
            lines.append("acl denied_hosts dstdomain " + " ".join(self.config.deny_hosts))
            lines.append("http_access deny denied_hosts")
        lines.append("http_access allow all")
        lines.extend(self.config.extra)
        conf = d / "squid.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 20.0) -> "Squid":
        conf = self._write_config()
        self.process = ManagedProcess([SQUID, "-N", "-f", str(conf)], log=self.dir / "squid.out")
        try:
            wait_until(
                lambda: self.process.listens_on(self.port) or not self.process.alive(),  # type: ignore[union-attr]
                timeout=timeout,
                what=f"Squid on port {self.port}",
            )
        except TimeoutError:
            self.stop()
            raise
        if not self.process.alive():
            raise RuntimeError(f"Squid exited at start:\n{self.process.log_tail()}\n{self.cache_log_tail()}")
        return self

    def cache_log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.dir / "cache.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def cleanup(self) -> None:
        """Stop, then remove Squid's directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process = None

    def access_entries(self) -> list[dict[str, str]]:
        """Parsed access log lines: action/status, method, URL."""
        entries = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) < 7:
                continue
            action, _, status = parts[3].partition("/")
            entries.append({"action": action, "status": status, "method": parts[5], "url": parts[6], "user": parts[7]})
        return entries

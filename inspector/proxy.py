"""The embedded mitmproxy: our capture addon in a stock master, on its own thread and event loop.

Why a thread: mitmproxy's ``Master.run()`` installs an eager task factory and
an exception handler on the whole running loop. Inside Textual's loop that
would change how the dashboard's tasks run, and a slow frame would stall the
proxy. On its own loop the proxy never waits for the UI; records cross over
through the sink (a thread-safe queue in the session store). The capture's
records are built on a worker thread from facts snapshotted on the loop
(:mod:`inspector.handoff`): :meth:`InspectorProxy.settle` and
:meth:`InspectorProxy.stop` wait until every exchange reached the sink.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .capture import NpmCapture, Sink
from .errors import PortInUseError, ProxyStartError
from .listener import LOOPBACK, ListenerCredential
from .upstream import UpstreamProxy
from .vault import SecretVault

logger = logging.getLogger(__name__)


@dataclass
class ProxyConfig:
    """How the inspector listens and where it forwards."""

    confdir: Path
    """npm-inspect's CA directory (see :func:`inspector.ca.ensure_ca`)."""
    listen_host: str = LOOPBACK
    port: int = 0
    """0: a free port chosen by the OS."""
    upstream: UpstreamProxy | None = None
    """The corporate proxy, with the credentials npm itself would send it (sent via ``upstream_auth``)."""
    decrypt: bool = True
    upstream_trusted_ca: Path | None = None
    """The CA bundle to verify registries with (npm's own cafile/ca); ``None``: certifi."""
    ssl_insecure: bool = False
    """Mirror npm's ``strict-ssl=false``."""
    listener: ListenerCredential | None = None
    """The credential clients must present; ``None`` only for the stock-addon path (``mitmdump -s``)."""
    extra_options: dict[str, object] = field(default_factory=dict)


def preload() -> None:
    """Start importing mitmproxy's master and addons (some 0.3 s of CPU) ahead of :meth:`InspectorProxy.start`.

    The session calls it while npm's config is being read (``npm config list``: child
    processes, while this process waits), so the two overlap instead of adding up.
    """
    from .warm import warm

    _lazy_ldap3()
    warm("mitmproxy.master", "mitmproxy.addons", "mitmproxy.options")  # the proxy's own start reports any real problem


def _lazy_ldap3() -> None:
    """Let mitmproxy's proxyauth import ``ldap3`` (~0.05 s) only when an LDAP validator first uses it.

    proxyauth imports it at its top for ``proxyauth=ldap:…``, which npm-inspect never sets (its listener
    credential is a plain user:password). The module loads in full on first attribute access.
    """
    import importlib.util
    import sys

    with _LAZY_LOCK:
        if "ldap3" in sys.modules:
            return
        spec = importlib.util.find_spec("ldap3")
        if spec is None or spec.loader is None:
            return
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules["ldap3"] = module
        spec.loader.exec_module(module)


_LAZY_LOCK = threading.Lock()


def _addons() -> list:
    """mitmproxy's default addons, with a TLS config that loads npm-inspect's CA key once, not twice."""
    from mitmproxy import addons
    from mitmproxy.addons import tlsconfig

    class _TlsConfig(tlsconfig.TlsConfig):
        name = "tlsconfig"

        def running(self) -> None:
            # mitmproxy reloads the CA in ``running`` in case ``configure`` never saw ``confdir``; here it always
            # has (confdir is set before the addons are added): a second load is ~0.05 s of RSA key checks
            if self.certstore is None:
                super().running()

    return [_TlsConfig() if type(addon) is tlsconfig.TlsConfig else addon for addon in addons.default_addons()]


def _log_quietly(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    logger.debug("after shutdown: %s", context.get("message"), exc_info=context.get("exception"))


class _Readiness:
    """Tells the starting thread whether the proxy servers came up, and where."""

    def __init__(self, owner: "InspectorProxy") -> None:
        self.owner = owner

    def running(self) -> None:
        from mitmproxy import ctx

        proxyserver = ctx.master.addons.get("proxyserver")
        errors = [str(s.last_exception) for s in proxyserver.servers if s.last_exception]
        addresses = proxyserver.listen_addrs()
        self.owner._on_running(errors, addresses)


class InspectorProxy:
    """Start, address and stop the inspector. ``start()`` blocks until it listens (or raises)."""

    def __init__(self, config: ProxyConfig, sink: Sink, vault: SecretVault | None = None) -> None:
        self.config = config
        self.capture = NpmCapture(sink, vault, offload=True)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._error: Exception | None = None
        self._master = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.host = config.listen_host
        self.port = config.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def mode(self) -> str:
        return "decrypt" if self.config.decrypt else "metadata-only"

    def start(self, timeout: float = 30.0) -> "InspectorProxy":
        self._thread = threading.Thread(target=self._thread_main, name="npm-inspect-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise ProxyStartError(f"mitmproxy did not start within {timeout:g} s; see the log (--log-file) for why")
        if self._error is not None:
            self.stop()
            raise self._error
        # Everything alive now (mitmproxy, cryptography, Textual, npm's config: some 10^5 objects, all kept for
        # the process's life) leaves the garbage collector's view: otherwise every full collection while
        # exchanges stream in walks all of it again, pausing the proxy's loop (measured: ~5 % of bench/load.py).
        gc.freeze()
        return self

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as e:  # startup failures are reported through start()
            logger.debug("proxy thread ended with %r", e)
            if not self._ready.is_set():
                self._error = ProxyStartError(f"mitmproxy could not start: {e}")
                self._ready.set()
        finally:
            self._stopped.set()

    async def _main(self) -> None:
        _lazy_ldap3()
        from mitmproxy import exceptions, master, options

        self._loop = asyncio.get_running_loop()
        # confdir first: when mitmproxy rejects an option it rolls back and reconfigures its addons, and
        # with the default confdir its TLS addon would create a stray CA in ~/.mitmproxy
        opts = options.Options(confdir=str(self.config.confdir))
        m = master.Master(opts, event_loop=self._loop)
        m.addons.add(*_addons())
        m.addons.add(self.capture, _Readiness(self))
        try:
            opts.update(**self._options())
        except exceptions.OptionsError as e:
            self._error = ProxyStartError(f"invalid proxy settings: {e}")
            self._ready.set()
            return
        self._master = m
        try:
            await m.run()
        finally:
            # connections still open at shutdown end as cancelled tasks; asyncio would print them
            self._loop.set_exception_handler(_log_quietly)

    def _options(self) -> dict[str, object]:
        c = self.config
        values: dict[str, object] = {
            "confdir": str(c.confdir),
            "listen_host": c.listen_host,
            "listen_port": c.port,
            "mode": [c.upstream.mode_spec if c.upstream else "regular"],
            "stream_large_bodies": "1m",
            "command_history": False,
            "ssl_insecure": c.ssl_insecure,
            "block_global": c.listen_host in (LOOPBACK, "::1", "localhost"),
        }
        if c.upstream is not None and c.upstream.credentials:
            values["upstream_auth"] = c.upstream.credentials
        if c.upstream_trusted_ca is not None:
            values["ssl_verify_upstream_trusted_ca"] = str(c.upstream_trusted_ca)
        if not c.decrypt:
            values["ignore_hosts"] = [".*"]
        if c.listener is not None:
            values["proxyauth"] = c.listener.proxyauth
        values.update(c.extra_options)
        return values

    def _on_running(self, errors: list[str], addresses: list[tuple]) -> None:
        if errors:
            text = "; ".join(errors)
            if "address already in use" in text.lower() or "errno 98" in text.lower():
                self._error = PortInUseError(
                    f"port {self.config.port} on {self.config.listen_host} is already in use: "
                    f"pick another with --port, or omit --port to use a free one"
                )
            else:
                self._error = ProxyStartError(f"mitmproxy could not listen: {text}")
            if self._master is not None:
                self._master.shutdown()
        elif addresses:
            self.host, self.port = addresses[0][0], addresses[0][1]
        else:
            self._error = ProxyStartError("mitmproxy started no listener")
        self._ready.set()

    def set_upstream(self, upstream: UpstreamProxy | None, timeout: float = 10.0) -> None:
        """Forward to another upstream (or the same one with other credentials) from now on, on the same port.

        Used between runs when a fix changes npm's proxy settings: the next npm run goes through the same
        inspector, which must then send the corporate proxy what npm would send it.
        """
        from mitmproxy.proxy import mode_specs

        loop = self._loop
        if self._master is None or loop is None or loop.is_closed():
            raise ProxyStartError("the proxy is not running")
        self.config.upstream = upstream
        options = self._options()

        wanted = mode_specs.ProxyMode.parse(options["mode"][0]).full_spec

        async def update() -> None:
            opts = self._master.options
            opts.update(listen_port=self.port)  # a new mode re-binds: keep the port npm and pasted URLs know
            opts.update(mode=options["mode"], upstream_auth=options.get("upstream_auth"))
            proxyserver = self._master.addons.get("proxyserver")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                servers = list(proxyserver.servers)
                if [s.mode.full_spec for s in servers] == [wanted] and all(s.is_running for s in servers):
                    return
                await asyncio.sleep(0.02)
            raise ProxyStartError("mitmproxy did not re-listen after the upstream changed")

        asyncio.run_coroutine_threadsafe(update(), loop).result(timeout + 1)

    def set_trust(self, upstream_trusted_ca: Path | None, *, insecure: bool, timeout: float = 10.0) -> None:
        """Verify registries with another CA bundle (npm's changed ``cafile``/``ca``) or not at all (``strict-ssl``)."""
        loop = self._loop
        if self._master is None or loop is None or loop.is_closed():
            raise ProxyStartError("the proxy is not running")
        self.config.upstream_trusted_ca, self.config.ssl_insecure = upstream_trusted_ca, insecure

        async def update() -> None:
            self._master.options.update(
                ssl_verify_upstream_trusted_ca=str(upstream_trusted_ca) if upstream_trusted_ca else None, ssl_insecure=insecure
            )

        asyncio.run_coroutine_threadsafe(update(), loop).result(timeout)

    def open_connections(self) -> int:
        """Client connections the capture still tracks (for settling before a report)."""
        return len(self.capture._clients)

    def settle(self, timeout: float = 2.0) -> None:
        """Wait (bounded) until every client connection has been seen closing and its records reached the sink."""
        deadline = time.monotonic() + timeout
        while self.open_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.capture.flush(max(0.5, deadline - time.monotonic()))

    async def _close_listeners(self) -> None:
        proxyserver = self._master.addons.get("proxyserver") if self._master is not None else None
        if proxyserver is not None:
            await proxyserver.servers.update([])

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listening socket, shut mitmproxy down and join its thread (idempotent)."""
        loop = self._loop
        if self._master is not None and not self._stopped.is_set() and loop is not None and not loop.is_closed():
            if self._error is None and self._ready.is_set():  # listening: close the socket first
                future = asyncio.run_coroutine_threadsafe(self._close_listeners(), loop)
                try:
                    future.result(timeout)
                except Exception:  # already stopping: the shutdown below still ends the thread
                    future.cancel()
                    logger.debug("closing the listeners failed", exc_info=True)
            try:
                self._master.shutdown()
            except RuntimeError:  # the loop closed meanwhile: the thread is ending anyway
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        self.capture.handoff.close(timeout)  # every record built and handed to the sink before stop returns

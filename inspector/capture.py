"""The capture addon: mitmproxy hooks → redacted :class:`~inspector.records.Exchange` records → a sink.

Loaded by :mod:`inspector.proxy` (embedded) and by ``addons/npm_capture.py``
(stock ``mitmdump -s``). Besides recording, it keeps the inspector
transparent: in upstream mode it asks the corporate proxy first (see
:mod:`inspector.upstream`) and relays a refusal to npm unchanged, and it
forwards npm's own ``Proxy-Authorization`` on mitmproxy's upstream CONNECT.

The sink is called on mitmproxy's event loop and must not block.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import time
from dataclasses import dataclass, field, replace

from mitmproxy import connection, ctx, http
from mitmproxy.net.http.status_codes import RESPONSES
from mitmproxy.proxy import mode_specs
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.tls import TlsData

from . import hops, redact
from .bounds import bound_exchange
from .build import (
    DECODE_LIMIT,
    ERROR_BODY_LIMIT,
    PREVIEW_LIMIT,
    ExchangeFacts,
    _decode_excerpt,
    build_exchange,
    fail_tunnel,
    is_textual,
    display_host,
    ms,
    redacted_tls,
    wants_excerpt,
)
from .handoff import Handoff, Sink
from .packument import PackumentCache, package_name
from .records import Exchange, Hop, Timings, TlsInfo
from .upstream import ConnectAnswer, probe_connect
from .vault import SecretVault

logger = logging.getLogger(__name__)

__all__ = ["BUFFER_LIMIT", "ERROR_BODY_LIMIT", "NpmCapture", "PREVIEW_LIMIT", "Sink", "_decode_excerpt"]

BUFFER_LIMIT = 1024 * 1024
"""Text/JSON bodies up to this size are buffered (to read error bodies); the rest are streamed."""
_ms = ms

_SEQ_KEY = "npm_inspect_seq"
_RELAYED_KEY = "npm_inspect_relayed"
_COUNTER_KEY = "npm_inspect_counter"
_REFUSED_KEY = "npm_inspect_refused_by_inspector"
_HEADS_KEY = "npm_inspect_answer_heads"

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
    "content-encoding",
}


@dataclass(slots=True)
class _ClientState:
    """What we know about one npm → inspector connection (one CONNECT tunnel, usually)."""

    started: float
    proxy_authorization: str | None = None
    connect: Exchange | None = None
    upstream_tcp: tuple[float, float | None] | None = None
    connect_sent: float | None = None
    tunnel_open: float | None = None
    tls: TlsInfo | None = None
    attributed: set[str] = field(default_factory=set)
    bytes_sent: int = 0
    bytes_received: int = 0
    gone: asyncio.Event | None = None
    """Set when npm closes this connection (created only while a probe is awaited)."""


@dataclass(slots=True)
class _Probe:
    """One CONNECT probe in flight, shared by every npm connection that waits for the same tunnel."""

    progress: ConnectAnswer
    task: "asyncio.Future[ConnectAnswer] | None" = None
    waiters: int = 0


class _BodyCounter:
    """A ``response.stream`` callable: passes chunks through, counts them, keeps the first few KB."""

    __slots__ = ("size", "head", "keep")

    def __init__(self, keep: int) -> None:
        self.size = 0
        self.head = bytearray()
        self.keep = keep

    def __call__(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if len(self.head) < self.keep:
            self.head += chunk[: self.keep - len(self.head)]
        return chunk


class NpmCapture:
    """Turns every CONNECT and HTTP exchange into a record and hands it to ``sink``."""

    def __init__(self, sink: Sink | None = None, vault: "SecretVault | None" = None, *, offload: bool = False) -> None:
        self.vault = vault
        """When set (live dashboard), secret header values are kept in memory for the reveal key."""
        self.handoff = Handoff(sink or (lambda exchange: None), vault, threaded=offload)
        """Where facts become records: on a worker thread (``offload``) or at once on the caller's."""
        self._seq = itertools.count(1)
        self._clients: dict[str, _ClientState] = {}
        self._upstream: tuple[str, tuple[str, int]] | None = None
        self._upstream_authorization: str | None = None
        self._relay = True
        self._decrypting = True
        self._accepted: dict[tuple[str, int, str], float] = {}
        """(host, port, credential fingerprint) → until when a probe's "200" may be reused."""
        self._inflight: dict[tuple[str, int, str], _Probe] = {}
        self.packuments = PackumentCache()
        """Raw package documents seen (read after a run to list what the registry has; never parsed here)."""

    # -- options ---------------------------------------------------------------

    def load(self, loader) -> None:
        loader.add_option(
            "npm_inspect_relay",
            bool,
            True,
            "Ask the upstream proxy before answering a CONNECT and relay its refusal "
            "(403/407 with its headers) to the client unchanged, instead of mitmproxy's 502.",
        )
        loader.add_option(
            "npm_inspect_probe_reuse",
            float,
            30.0,
            "Seconds an accepted CONNECT probe is reused for the same host and credentials "
            "(refusals are never reused; 0 probes every tunnel).",
        )
        loader.add_option(
            "npm_inspect_probe_timeout",
            float,
            0.0,
            "Seconds to wait for the upstream proxy's answer to a CONNECT probe; 0 waits as long as the "
            "client does (npm sets no limit on a proxy's answer to CONNECT).",
        )

    def configure(self, updated: set[str]) -> None:
        if updated & {"mode", "upstream_auth", "npm_inspect_relay", "ignore_hosts", "allow_hosts"}:
            self._upstream = None
            self._accepted.clear()  # another upstream (or login) between runs: its answers must be asked anew
            for spec in ctx.options.mode:
                mode = mode_specs.ProxyMode.parse(spec)
                if isinstance(mode, mode_specs.UpstreamMode):
                    self._upstream = (mode.scheme, mode.address)
                    break
            auth = ctx.options.upstream_auth if "upstream_auth" in ctx.options else None
            self._upstream_authorization = (
                "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii") if auth else None
            )
            self._relay = bool(ctx.options.npm_inspect_relay)
            self._decrypting = not (ctx.options.ignore_hosts or ctx.options.allow_hosts)

    @property
    def sink(self) -> Sink:
        return self.handoff.sink

    @sink.setter
    def sink(self, sink: Sink) -> None:
        self.handoff.sink = sink

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every exchange seen so far has reached the sink (records are built off the loop)."""
        return self.handoff.flush(timeout)

    def done(self) -> None:
        """mitmproxy is shutting down: hand over the records still being built."""
        self.handoff.close()

    # -- connections ------------------------------------------------------------

    def client_connected(self, client: connection.Client) -> None:
        self._clients[client.id] = _ClientState(started=client.timestamp_start or time.time())

    def client_disconnected(self, client: connection.Client) -> None:
        state = self._clients.pop(client.id, None)
        if state is not None and state.gone is not None:
            state.gone.set()
        if state is None or state.connect is None or state.connect.state == "done":
            return
        end = client.timestamp_end or time.time()
        record = state.connect
        timings = replace(record.timings, total=_ms(record.started, end))
        if timings.upstream_connect is None and state.upstream_tcp and state.upstream_tcp[1]:
            timings = replace(timings, upstream_connect=_ms(*state.upstream_tcp))
        if timings.connect is None and state.connect_sent and state.tunnel_open:
            timings = replace(timings, connect=_ms(state.connect_sent, state.tunnel_open))
        self._emit(
            bound_exchange(
                replace(
                    record,
                    state="done",
                    tls=redacted_tls(state.tls) or record.tls,
                    bytes_sent=state.bytes_sent,
                    bytes_received=state.bytes_received,
                    timings=timings,
                )
            )
        )

    def server_connect(self, data: ServerConnectionHookData) -> None:
        state = self._clients.get(data.client.id)
        if state is not None:
            state.upstream_tcp = (time.time(), None)

    def server_connected(self, data: ServerConnectionHookData) -> None:
        state = self._clients.get(data.client.id)
        if state is not None and state.upstream_tcp is not None:
            state.upstream_tcp = (state.upstream_tcp[0], data.server.timestamp_tcp_setup or time.time())

    def tls_start_server(self, data: TlsData) -> None:
        state = self._client_state(data.context.client)
        state.tunnel_open = data.conn.timestamp_start or time.time()

    def tls_established_server(self, data: TlsData) -> None:
        state = self._client_state(data.context.client)
        server = data.conn
        chain = tuple(_name(cert.issuer) for cert in server.certificate_list)
        leaf = server.certificate_list[0] if server.certificate_list else None
        pem = "".join(cert.to_pem().decode("ascii") for cert in server.certificate_list[1:]) or None
        state.tls = TlsInfo(
            sni=server.sni,
            version=str(server.tls_version) if server.tls_version else None,
            subject=_name(leaf.subject) if leaf else None,
            issuer=_name(leaf.issuer) if leaf else None,
            chain=chain,
            chain_pem=pem,
        )

    def tls_failed_server(self, data: TlsData) -> None:
        state = self._client_state(data.context.client)
        server = data.conn
        chain = _peer_chain(data)
        state.tls = TlsInfo(
            sni=server.sni,
            issuer=_name(chain[0].issuer) if chain else None,
            subject=_name(chain[0].subject) if chain else None,
            chain=tuple(_name(cert.issuer) for cert in chain),
            chain_pem=_ca_pem(chain),
            failed_by=Hop.REGISTRY,
            error=str(server.error or "TLS handshake failed"),
        )
        self._fail_connect(state, Hop.TLS, "tls", f"the registry's certificate was rejected: {state.tls.error}")

    def tls_failed_client(self, data: TlsData) -> None:
        client = data.conn
        state = self._client_state(client)
        message = str(client.error or "TLS handshake failed")
        state.tls = TlsInfo(
            sni=client.sni,
            failed_by=Hop.CLIENT,
            error=message,
        )
        self._fail_connect(
            state,
            Hop.CLIENT,
            "tls",
            f"npm rejected npm-inspect's certificate ({message}): npm does not trust npm-inspect's CA",
        )

    # -- CONNECT -----------------------------------------------------------------

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        state = self._client_state(flow.client_conn)
        request = flow.request
        flow.metadata[_SEQ_KEY] = next(self._seq)
        if _refused_by_inspector(flow):
            flow.metadata[_REFUSED_KEY] = True
            self._emit(self._refusal_facts(flow))
            return
        # with mitmproxy's proxyauth on, a valid credential (the run's own) was removed before this hook:
        # what is left is a credential meant for the upstream proxy (stock mitmdump -s addons/npm_capture.py)
        state.proxy_authorization = request.headers.get("proxy-authorization")
        if self._upstream is None or not self._relay:
            return
        authorization = self._upstream_authorization or state.proxy_authorization
        answer = await self._probe(request.host, request.port, authorization, state)
        record = build_exchange(self._probe_facts(flow, answer, authorization), vault=self.vault)
        if answer.accepted:
            state.connect = record
        else:
            flow.response = _relay_response(answer, self._upstream[1])
            flow.metadata[_RELAYED_KEY] = True
        self._emit(record)

    async def _probe(self, host: str, port: int, authorization: str | None, state: _ClientState) -> ConnectAnswer:
        """Ask the upstream; concurrent asks for the same tunnel share one probe, and a "200" is reused briefly.

        npm opens many sockets at once to one registry: without sharing, each
        would cost a round trip to the proxy (and the proxy's connect to the
        registry) before npm may send a byte. A probe waits as long as npm
        waits: when npm closes its connection first, the answer says how far
        the proxy got (accepted the TCP connection, or not even that).
        """
        assert self._upstream is not None
        key = (host, port, redact.fingerprint(authorization or ""))
        if self._accepted.get(key, 0.0) > time.monotonic():
            return ConnectAnswer(started=time.time(), status=200, reason="Connection established", reused=True)
        probe = self._inflight.get(key)
        if probe is None:
            probe = self._inflight[key] = _Probe(ConnectAnswer(started=time.time()))
            probe.task = asyncio.ensure_future(self._probe_once(key, authorization, probe.progress))
        assert probe.task is not None
        if probe.task.done():
            return probe.task.result()
        probe.waiters += 1
        state.gone = state.gone or asyncio.Event()
        left = asyncio.ensure_future(state.gone.wait())
        try:
            await asyncio.wait((probe.task, left), return_when=asyncio.FIRST_COMPLETED)
        finally:
            left.cancel()
            probe.waiters -= 1
        if probe.task.done() and not probe.task.cancelled():
            return probe.task.result()
        if probe.waiters <= 0:  # nobody waits for this answer any more: stop asking
            probe.task.cancel()
            if self._inflight.get(key) is probe:
                del self._inflight[key]
        return _given_up(probe.progress, host, port)

    async def _probe_once(self, key: tuple[str, int, str], authorization: str | None, progress: ConnectAnswer) -> ConnectAnswer:
        assert self._upstream is not None
        scheme, address = self._upstream
        try:
            answer = await probe_connect(
                address,
                (key[0], key[1]),
                proxy_authorization=authorization,
                proxy_tls=scheme == "https",
                timeout=ctx.options.npm_inspect_probe_timeout or None,
                answer=progress,
            )
        finally:
            probe = self._inflight.get(key)
            if probe is not None and probe.progress is progress:
                del self._inflight[key]
        reuse = ctx.options.npm_inspect_probe_reuse
        if answer.accepted and reuse > 0:
            self._accepted[key] = time.monotonic() + reuse
        elif not answer.accepted:
            self._accepted.pop(key, None)
        return answer

    def _forget_acceptance(self, flow: http.HTTPFlow, state: _ClientState) -> None:
        authorization = self._upstream_authorization or state.proxy_authorization
        self._accepted.pop((flow.request.host, flow.request.port, redact.fingerprint(authorization or "")), None)

    def http_connect_upstream(self, flow: http.HTTPFlow) -> None:
        state = self._client_state(flow.client_conn)
        state.connect_sent = time.time()
        if not self._upstream_authorization and state.proxy_authorization:
            flow.request.headers["Proxy-Authorization"] = state.proxy_authorization

    def http_connected(self, flow: http.HTTPFlow) -> None:
        if self._upstream is not None and self._relay:
            return  # recorded from the probe in http_connect
        state = self._client_state(flow.client_conn)
        record = build_exchange(self._direct_facts(flow), vault=self.vault)
        state.connect = record
        self._emit(record)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(_RELAYED_KEY) or (self._upstream is not None and self._relay):
            return
        self._emit(self._direct_facts(flow))

    # -- HTTP --------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        flow.metadata.setdefault(_SEQ_KEY, next(self._seq))
        if _refused_by_inspector(flow):
            flow.metadata[_REFUSED_KEY] = True
            return
        request = flow.request
        if self._upstream is not None and request.scheme == "https" and request.authority:
            # npm sent "GET https://host/path" to us as a proxy (no CONNECT). Through the upstream we tunnel
            # (CONNECT + TLS), and inside a tunnel the registry wants origin-form ("GET /path"); mitmproxy's
            # upstream mode would keep the absolute form and registries answer 400.
            request.authority = ""

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None:
            return
        heads = flow.metadata[_HEADS_KEY] = _answer_heads(response.headers.fields)
        content_type, length, _ = heads
        textual = is_textual((content_type or "").lower())
        small = length is not None and length.isdigit() and int(length) <= BUFFER_LIMIT
        if response.stream or not textual or (length is not None and not small):
            counter = _BodyCounter(ERROR_BODY_LIMIT if textual else 0)
            response.stream = counter
            flow.metadata[_COUNTER_KEY] = counter

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.request.method == "CONNECT":
            return
        if flow.metadata.get(_REFUSED_KEY):
            self._emit(self._refusal_facts(flow))
            return
        self._emit(self._http_facts(flow))
        self._keep_packument(flow)

    def _keep_packument(self, flow: http.HTTPFlow) -> None:
        """Keep a package document's raw bytes (already in memory) for a later "which versions are there"."""
        response = flow.response
        if flow.request.method != "GET" or response is None or response.status_code != 200 or response.raw_content is None:
            return
        content_type, _, encoding = flow.metadata.get(_HEADS_KEY) or _answer_heads(response.headers.fields)
        if "json" not in (content_type or ""):
            return
        name = package_name(flow.request.path)
        if name is not None:
            self.packuments.keep(name, response.raw_content, encoding)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.request.method == "CONNECT" or flow.response is not None and flow.metadata.get(_RELAYED_KEY):
            return
        if flow.error is not None and "refused HTTP CONNECT" in flow.error.msg:
            # the proxy changed its mind since a reused probe: probe again next time
            self._forget_acceptance(flow, self._client_state(flow.client_conn))
        self._emit(self._http_facts(flow))

    # -- building records -----------------------------------------------------------

    def _client_state(self, client: connection.Client) -> _ClientState:
        state = self._clients.get(client.id)
        if state is None:
            state = self._clients[client.id] = _ClientState(started=client.timestamp_start or time.time())
        return state

    def _emit(self, item: ExchangeFacts | Exchange) -> None:
        """Hand facts (built off the loop) or a finished record over, in order."""
        self.handoff.put(item)

    def _fail_connect(self, state: _ClientState, hop: Hop, kind: str, message: str) -> None:
        if state.connect is None:
            return
        state.connect = fail_tunnel(state.connect, state.tls, hop, kind, message)
        self._emit(state.connect)

    # -- facts (snapshots taken on the proxy's loop; records are built by inspector.build) ----------------

    def _probe_facts(self, flow: http.HTTPFlow, answer: ConnectAnswer, authorization: str | None) -> ExchangeFacts:
        request = flow.request
        state = self._client_state(flow.client_conn)
        assert self._upstream is not None
        done = answer.started + ((answer.tcp_ms or 0) + (answer.connect_ms or 0)) / 1000
        if answer.error_kind == hops.PROXY_SLOW:
            done = time.time()
        return ExchangeFacts(
            source="probe",
            id=_record_id(flow),
            seq=flow.metadata[_SEQ_KEY],
            kind="connect",
            started=request.timestamp_start,
            method="CONNECT",
            host=request.host,
            port=request.port,
            http_version=answer.http_version,
            status=answer.status,
            reason=answer.reason,
            request_headers=request.headers.fields,
            response_headers=tuple(answer.headers),
            proxy_authorization=authorization,
            via_proxy=True,
            upstream=_address(self._upstream[1]),
            error=answer.error,
            error_kind=answer.error_kind,
            reused=answer.reused,
            body=answer.body or None,
            body_encoding=_first(answer.headers, "content-encoding"),
            timings=Timings(
                client=ms(state.started, request.timestamp_start),
                upstream_connect=answer.tcp_ms,
                connect=answer.connect_ms,
                total=ms(request.timestamp_start, done) if not answer.accepted else None,
            ),
            state="open" if answer.accepted else "done",
            decrypted=self._decrypting,
        )

    def _refusal_facts(self, flow: http.HTTPFlow) -> ExchangeFacts:
        """npm-inspect's own 407: the client did not hold this run's credential (nothing went upstream)."""
        request, response = flow.request, flow.response
        assert response is not None
        connect = request.method == "CONNECT"
        return ExchangeFacts(
            source="inspector",
            id=_record_id(flow),
            seq=flow.metadata.get(_SEQ_KEY) or next(self._seq),
            kind="connect" if connect else "http",
            started=request.timestamp_start,
            method=request.method,
            scheme=request.scheme,
            host=request.host,
            port=request.port,
            path=request.path,
            http_version=response.http_version,
            status=response.status_code,
            reason=response.reason,
            request_headers=request.headers.fields,
            response_headers=response.headers.fields,
            timings=Timings(total=ms(request.timestamp_start, response.timestamp_end or time.time())),
            decrypted=self._decrypting,
        )

    def _direct_facts(self, flow: http.HTTPFlow) -> ExchangeFacts:
        request, response = flow.request, flow.response
        state = self._client_state(flow.client_conn)
        server = flow.server_conn
        status = response.status_code if response else None
        tcp = state.upstream_tcp
        return ExchangeFacts(
            source="direct",
            id=_record_id(flow),
            seq=flow.metadata.get(_SEQ_KEY) or next(self._seq),
            kind="connect",
            started=request.timestamp_start,
            method="CONNECT",
            host=request.host,
            port=request.port,
            status=status,
            reason=response.reason if response else "",
            request_headers=request.headers.fields,
            error=str(flow.error) if flow.error else None,
            body=response.get_text(strict=False) if response is not None and status is not None and status >= 400 else None,
            timings=Timings(
                client=ms(state.started, request.timestamp_start),
                upstream_connect=ms(tcp[0], tcp[1]) if tcp and tcp[1] else ms(server.timestamp_start, server.timestamp_tcp_setup),
            ),
            state="open" if status is not None and status < 400 else "done",
            decrypted=self._decrypting,
        )

    def _http_facts(self, flow: http.HTTPFlow) -> ExchangeFacts:
        """Everything the record needs, read off the flow without redacting or classifying (that is the worker's)."""
        request, response = flow.request, flow.response
        state = self._client_state(flow.client_conn)
        server = flow.server_conn
        via = server.via if server is not None else None
        timings = self._http_timings(flow, state)
        counter: _BodyCounter | None = flow.metadata.get(_COUNTER_KEY)
        raw = response.raw_content if response is not None else None
        received = counter.size if counter is not None else len(raw or b"")
        sent = len(request.raw_content or b"")
        state.bytes_sent += sent
        state.bytes_received += received
        status = content_type = encoding = body = None
        response_headers: tuple = ()
        if response is not None:
            status = response.status_code
            response_headers = response.headers.fields
            heads = flow.metadata.get(_HEADS_KEY)
            if heads is None:
                heads = flow.metadata[_HEADS_KEY] = _answer_heads(response_headers)
            content_type = heads[0]
            if wants_excerpt(status, content_type, received):
                head = bytes(counter.head) if counter is not None else raw
                body = head[:DECODE_LIMIT] if head else None
                encoding = heads[2]
        reached = bool(server is not None and server.timestamp_start is not None and server.connected)
        https = request.scheme == "https"
        return ExchangeFacts(
            source="capture",
            id=_record_id(flow),
            seq=flow.metadata.get(_SEQ_KEY) or next(self._seq),
            started=request.timestamp_start,
            method=request.method,
            scheme=request.scheme,
            host=display_host(_host_header(request), request.host),
            port=request.port,
            path=request.path,
            http_version=response.http_version if response is not None else "HTTP/1.1",
            status=status,
            reason=response.reason if response is not None else "",
            request_headers=request.headers.fields,
            response_headers=response_headers,
            proxy_authorization=state.proxy_authorization,
            via_proxy=via is not None,
            in_tunnel=https,
            upstream=_address(via[1]) if via else None,
            error=str(flow.error.msg) if flow.error is not None else None,
            reached_registry=reached or state.tls is not None,
            tls=state.tls if https else None,
            body=body,
            body_encoding=encoding,
            body_size=received,
            bytes_sent=sent,
            content_type=content_type,
            timings=timings,
        )

    def _http_timings(self, flow: http.HTTPFlow, state: _ClientState) -> Timings:
        request, response, server = flow.request, flow.response, flow.server_conn
        upstream_connect = connect = tls = client = None
        if server is not None and server.id not in state.attributed:
            state.attributed.add(server.id)
            if state.upstream_tcp and state.upstream_tcp[1]:
                upstream_connect = _ms(*state.upstream_tcp)
            elif server.timestamp_tcp_setup:
                upstream_connect = _ms(server.timestamp_start, server.timestamp_tcp_setup)
            if server.via is not None and state.connect_sent and server.timestamp_start:
                connect = _ms(state.connect_sent, server.timestamp_start)
            if server.timestamp_tls_setup:
                base = server.timestamp_start if server.via is not None else server.timestamp_tcp_setup
                tls = _ms(base, server.timestamp_tls_setup)
            client_conn = flow.client_conn
            if client_conn.timestamp_tls_setup and state.connect is not None:
                client = _ms(state.connect.started, client_conn.timestamp_tls_setup)
        end = None
        send = _ms(request.timestamp_start, request.timestamp_end)
        wait = receive = None
        if response is not None:
            wait = _ms(request.timestamp_end, response.timestamp_start)
            receive = _ms(response.timestamp_start, response.timestamp_end)
            end = response.timestamp_end
        elif flow.error is not None:
            end = flow.error.timestamp
        return Timings(
            client=client,
            upstream_connect=upstream_connect,
            connect=connect,
            tls=tls,
            send=send,
            wait=wait,
            receive=receive,
            total=_ms(request.timestamp_start, end),
        )


# -- pure helpers ---------------------------------------------------------------------


def _given_up(progress: ConnectAnswer, host: str, port: int) -> ConnectAnswer:
    """The answer for a client that closed its connection before the proxy answered its CONNECT."""
    waited = max(0.0, time.time() - progress.started)
    answer = ConnectAnswer(started=progress.started, tcp_ms=progress.tcp_ms)
    target = f"{host}:{port}"
    if progress.tcp_accepted:
        answer.error_kind = hops.PROXY_SLOW
        answer.error = (
            f"npm gave up after {waited:.1f} s: the proxy had accepted the TCP connection but not yet answered "
            f"CONNECT {target} (it may be slow to resolve or reach {host}, or to check credentials)"
        )
    else:
        answer.error_kind = "timeout"
        answer.error = f"npm gave up after {waited:.1f} s: the TCP connection to the proxy was not established yet"
    return answer


def _relay_response(answer: ConnectAnswer, address: tuple[str, int]) -> http.Response:
    """The answer npm gets in place of mitmproxy's 502: the proxy's own status and headers, empty body."""
    if answer.status is None:
        reason = f"npm-inspect: upstream proxy {_address(address)} unreachable ({answer.error})"
        return http.Response(
            b"HTTP/1.1",
            502,
            reason.encode("latin-1", "replace")[:200],
            http.Headers([(b"Content-Length", b"0"), (b"Connection", b"close")]),
            b"",
            None,
            time.time(),
            time.time(),
        )
    headers = [
        (k.encode("latin-1", "replace"), v.encode("latin-1", "replace"))
        for k, v in answer.headers
        if k.lower() not in _HOP_BY_HOP
    ]
    headers += [(b"Content-Length", b"0"), (b"Connection", b"close")]
    reason = answer.reason or RESPONSES.get(answer.status, "")
    return http.Response(
        answer.http_version.encode("latin-1", "replace"),
        answer.status,
        reason.encode("latin-1", "replace"),
        http.Headers(headers),
        b"",
        None,
        time.time(),
        time.time(),
    )


def _refused_by_inspector(flow: http.HTTPFlow) -> bool:
    """mitmproxy's proxyauth (which runs before this addon) answered 407: the client lacks the run's credential."""
    response = flow.response
    return response is not None and response.status_code == 407 and "proxyauth" not in flow.metadata




def _record_id(flow: http.HTTPFlow) -> str:
    """The flow's id without dashes: a UUID-shaped id would be taken for npm's legacy tokens by the redactor."""
    return flow.id.replace("-", "")




def _answer_heads(fields: tuple[tuple[bytes, bytes], ...]) -> tuple[str | None, str | None, str | None]:
    """Content-Type, -Length and -Encoding in one pass over the raw fields.

    mitmproxy's ``headers.get`` costs several microseconds each (it re-encodes and
    lower-cases every name): on the proxy's loop, per exchange, that adds up.
    """
    content_type = length = encoding = None
    for key, value in fields:
        size = len(key)
        if size == 12 and content_type is None and key.lower() == b"content-type":
            content_type = value.decode("utf-8", "surrogateescape")
        elif size == 14 and length is None and key.lower() == b"content-length":
            length = value.decode("utf-8", "surrogateescape")
        elif size == 16 and encoding is None and key.lower() == b"content-encoding":
            encoding = value.decode("utf-8", "surrogateescape")
    return content_type, length, encoding


def _host_header(request: http.Request) -> str | None:
    """``request.host_header`` without mitmproxy's per-call header lookup (HTTP/2 and 3 carry it as ``:authority``)."""
    data = request.data
    if data.http_version in (b"HTTP/2.0", b"HTTP/3"):
        if data.authority:
            return data.authority.decode("utf-8", "surrogateescape")
    for key, value in data.headers.fields:
        if len(key) == 4 and key.lower() == b"host":
            return value.decode("utf-8", "surrogateescape")
    return None


def _address(address: tuple[str, int]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    return hops.first_header(headers, name)


def _name(parts: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in parts)


def _peer_chain(data: TlsData) -> list:
    """The certificates the server sent, even when verifying them failed (mitmproxy then keeps none)."""
    from mitmproxy import certs

    if data.conn.certificate_list:
        return list(data.conn.certificate_list)
    chain = []
    try:
        for cert in (data.ssl_conn.get_peer_cert_chain() if data.ssl_conn else None) or []:
            chain.append(certs.Cert.from_pyopenssl(cert))
    except Exception:  # a weird certificate must not break the hook
        logger.debug("could not read the peer's certificate chain", exc_info=True)
    return chain


def _ca_pem(chain: list) -> str | None:
    """PEM of the chain's CA certificates (everything above the leaf; the leaf itself if it signed itself)."""
    cas = [c for c in chain[1:]] or [c for c in chain[:1] if c.issuer == c.subject]
    return "".join(c.to_pem().decode("ascii") for c in cas) or None




def _is_login(request: http.Request) -> bool:
    return request.method == "PUT" and "/-/user/org.couchdb.user:" in request.path


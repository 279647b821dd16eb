"""Rich renderables for the dashboard: an exchange's details, its timing waterfall, a finding.

Kept apart from the widgets so they can be checked without a running app.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..diagnose import Finding
from ..outcome import outcome_of
from ..records import Exchange

PHASES = (
    ("upstream_connect", "proxy connect", "blue"),
    ("connect", "CONNECT", "magenta"),
    ("tls", "TLS", "cyan"),
    ("send", "send", "white"),
    ("wait", "TTFB", "yellow"),
    ("receive", "transfer", "green"),
)
_MASKED = re.compile(r"\[redacted:([0-9a-f]{8})\]")

Reveal = Callable[[str], str | None]
"""fingerprint → the secret, when the user asked to see secrets (live sessions only)."""


def waterfall(exchange: Exchange, width: int = 40) -> RenderableType:
    """Phases as proportional bars, each labelled with its duration."""
    t = exchange.timings
    values = [(label, getattr(t, field), colour) for field, label, colour in PHASES]
    present = [(label, v, colour) for label, v, colour in values if v is not None]
    if not present:
        return Text("no timings (no answer was received)", style="dim")
    longest = max(v for _, v, _ in present) or 1.0
    scale = max(sum(v for _, v, _ in present), longest) or 1.0
    table = Table.grid(padding=(0, 1))
    table.add_column(width=13, no_wrap=True)
    table.add_column(width=width, no_wrap=True)
    table.add_column(justify="right", width=9, no_wrap=True)
    offset = 0.0
    for label, value, colour in values:
        if value is None:
            table.add_row(Text(label, style="dim"), Text("·", style="dim"), Text("-", style="dim"))
            continue
        start = int(offset / scale * width)
        length = max(1, int(round(value / scale * width)))
        bar = Text(" " * start) + Text("█" * min(length, width - start), style=colour)
        table.add_row(label, bar, f"{value:.0f} ms" if value >= 1 else f"{value:.1f} ms")
        offset += value
    if t.total is not None:
        table.add_row(Text("total", style="bold"), Text(""), Text(f"{t.total:.0f} ms", style="bold"))
    return table


def _headers(pairs: tuple[tuple[str, str], ...], reveal: Reveal | None) -> RenderableType:
    if not pairs:
        return Text("(none)", style="dim")
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in pairs:
        shown = _MASKED.sub(lambda m: (reveal(m.group(1)) if reveal else None) or m.group(0), value) if reveal else value
        table.add_row(f"{name}:", Text(shown, style="yellow" if "[redacted:" in value else ""))
    return table


def body_preview(exchange: Exchange) -> RenderableType:
    content_type = (exchange.content_type or "").lower()
    size = exchange.bytes_received
    if exchange.body_preview is None:
        if size:
            kind = "tarball" if exchange.path.endswith(".tgz") or "octet-stream" in content_type else "binary body"
            if "json" in content_type or content_type.startswith("text/"):
                kind = "packument" if "json" in content_type and exchange.method == "GET" else "text body"
            return Text(f"{kind} ({content_type or 'no content type'}), {human_size(size)} — summarised, not kept", style="dim")
        return Text("(no body)", style="dim")
    text = exchange.body_preview
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            text = json.dumps(json.loads(text), indent=2)
        except ValueError:
            text += "\n… (cut)" if len(text) >= 1000 else ""
    return Text(text)


def human_size(n: int) -> str:
    """``318000`` → ``310.5 KB``."""
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def detail(exchange: Exchange, reveal: Reveal | None = None, width: int = 80) -> RenderableType:
    """Everything about one exchange: outcome, hop evidence, waterfall, headers, body."""
    outcome = outcome_of(exchange)
    title = Text.assemble(
        (f"{outcome.glyph} {outcome.word}  ", outcome.style),
        (f"{exchange.method} {exchange.url}", "bold"),
    )
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    status = f"{exchange.status} {exchange.reason}".strip() if exchange.status is not None else "no answer"
    facts.add_row("status", status)
    facts.add_row("hop", Text(exchange.hop.value if exchange.hop else "?", style="bold"))
    facts.add_row("why", exchange.evidence.reason or "-")
    started = time.strftime("%H:%M:%S", time.localtime(exchange.started)) + f".{int(exchange.started % 1 * 1000):03d}"
    facts.add_row("started", started + (f"  via proxy {exchange.upstream}" if exchange.upstream else "  direct"))
    if exchange.error:
        facts.add_row("error", Text(f"{exchange.error.kind}: {exchange.error.message}", style="red"))
    if exchange.proxy_auth:
        who = f" user {exchange.proxy_auth.username}" if exchange.proxy_auth.username else ""
        facts.add_row("proxy auth sent", f"{exchange.proxy_auth.scheme}{who} (fingerprint {exchange.proxy_auth.fingerprint})")
    elif exchange.kind == "connect" or exchange.upstream:
        facts.add_row("proxy auth sent", "none")
    if exchange.auth:
        facts.add_row("registry auth sent", f"{exchange.auth.scheme} (fingerprint {exchange.auth.fingerprint})")
    if exchange.npm.command:
        facts.add_row("npm command", exchange.npm.command)
    facts.add_row("bytes", f"{human_size(exchange.bytes_sent)} sent, {human_size(exchange.bytes_received)} received")
    if exchange.tls:
        tls = exchange.tls
        facts.add_row("TLS issuer", tls.issuer or "-")
        if tls.error:
            facts.add_row("TLS error", Text(f"{tls.error} (rejected by {tls.failed_by.value if tls.failed_by else '?'})", style="cyan"))
    if not exchange.decrypted:
        facts.add_row("mode", "metadata-only: the tunnel was not opened")

    ev = exchange.evidence
    evidence = Table.grid(padding=(0, 1))
    evidence.add_column(style="bold", no_wrap=True)
    evidence.add_column(overflow="fold")
    for label, value in (
        ("status line", ev.status_line),
        ("Server", ev.server),
        ("Via", ev.via),
        ("X-Squid-Error", ev.squid_error),
        ("Proxy-Authenticate", "; ".join(ev.proxy_authenticate)),
        ("WWW-Authenticate", "; ".join(ev.www_authenticate)),
    ):
        if value:
            evidence.add_row(label, value)
    if ev.error_body:
        evidence.add_row("error body", " ".join(ev.error_body.split())[:400])

    return Group(
        title,
        Text(""),
        facts,
        Text("\nTiming", style="bold underline"),
        waterfall(exchange, max(10, width - 26)),
        Text("\nEvidence", style="bold underline"),
        evidence,
        Text("\nRequest headers", style="bold underline"),
        _headers(exchange.request_headers, reveal),
        Text("\nResponse headers", style="bold underline"),
        _headers(exchange.response_headers, reveal),
        Text("\nBody", style="bold underline"),
        body_preview(exchange),
    )


def finding_text(finding: Finding) -> RenderableType:
    count = f" ×{finding.count}" if finding.count > 1 else ""
    parts: list[RenderableType] = [
        Text.assemble((f"{finding.rule}", "bold"), f" · {finding.severity} · hop ", (finding.hop.value, "bold"), count),
        Text(finding.title, style="bold"),
        Text(finding.explanation),
    ]
    if finding.caveats:
        parts.append(Text("\n".join(f"! {c}" for c in finding.caveats), style="dim"))
    if finding.evidence:
        parts.append(Text("Evidence (enter jumps to it):", style="bold"))
        parts.append(Text("\n".join(f"#{e.seq} {e.excerpt}" for e in finding.evidence), style="dim"))
    return Group(*parts)

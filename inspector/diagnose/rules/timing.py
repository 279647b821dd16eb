"""Slow hops: a phase far above its peers, named with the figures."""

from __future__ import annotations

import statistics

from ...hops import PROXY_SLOW
from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..facts import evidence_refs
from ..context import RunContext
from ..findings import Finding

PHASES: tuple[tuple[str, str, Hop], ...] = (
    ("upstream_connect", "TCP connect to the proxy", Hop.PROXY),
    ("connect", "CONNECT round trip through the proxy", Hop.PROXY),
    ("tls", "TLS handshake with the registry", Hop.REGISTRY),
    ("wait", "time to first byte from the registry", Hop.REGISTRY),
)
ABSOLUTE_FLOOR_MS = 1000.0
"""Slower than this and far above its peers."""
ALWAYS_SLOW_MS = 10000.0
"""Slower than this whatever the peers do."""


def slow_hop(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    findings = []
    for field, label, hop in PHASES:
        values = [(e, getattr(e.timings, field)) for e in exchanges if getattr(e.timings, field) is not None]
        if not values:
            continue
        median = statistics.median(v for _, v in values)
        slow = [
            (e, v)
            for e, v in values
            if v >= ALWAYS_SLOW_MS or (v >= ABSOLUTE_FLOOR_MS and len(values) >= 3 and v >= 5 * max(median, 1.0))
        ]
        if not slow:
            continue
        slow.sort(key=lambda pair: -pair[1])
        worst = slow[0][1]
        figures = ", ".join(f"#{e.seq} {v:.0f} ms" for e, v in slow[:5])
        where = "the proxy" if hop == Hop.PROXY else "the registry"
        findings.append(
            Finding(
                rule="slow-hop",
                severity="warning",
                hop=hop,
                title=f"Slow {label}: up to {worst / 1000:.1f} s (median {median:.0f} ms)",
                explanation=(
                    f"{len(slow)} of {len(values)} exchanges spent far longer than their peers in the {label} "
                    f"({figures}; median {median:.0f} ms). The delay is at {where}."
                    + (" npm's fetch-timeout (default 5 minutes) and fetch-retries hide it as slowness or random failures." if worst > 30000 else "")
                ),
                evidence=evidence_refs(e for e, _ in slow),
                count=len(slow),
                rank=80,
            )
        )
    return findings


def unanswered_connect(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """The proxy accepted the TCP connection but had not answered CONNECT when npm gave up: slow, not down."""
    waiting = [e for e in exchanges if e.kind == "connect" and e.hop == Hop.PROXY and e.error and e.error.kind == PROXY_SLOW]
    if not waiting:
        return []
    targets = sorted({f"{e.host}:{e.port}" for e in waiting})
    longest = max((e.timings.total or 0.0) for e in waiting) / 1000
    proxy = waiting[0].upstream or "the proxy"
    return [
        Finding(
            rule="slow-hop",
            severity="error",
            hop=Hop.PROXY,
            title=f"The proxy at {proxy} accepted the connection but had not answered CONNECT {', '.join(targets)} after {longest:.1f} s",
            explanation=(
                f"The proxy took the TCP connection at once, so it is up, but it had not answered npm's CONNECT for "
                f"{', '.join(targets)} after {longest:.1f} s, when npm stopped waiting. A proxy does that while it "
                "resolves or reaches the target (slow DNS, a slow or unreachable registry behind it) or checks "
                "credentials with a slow directory. npm sets no time limit on a CONNECT answer (its fetch-timeout only "
                "starts once the tunnel is up), and npm-inspect waits as long as npm does."
            ),
            evidence=evidence_refs(waiting),
            commands=(f"curl -sv --proxy http://{proxy} https://{waiting[0].host}:{waiting[0].port}/ -o /dev/null",),
            caveats=(
                "If the proxy answers in the end, the install works, only slowly: report the delay to your network team "
                "with these figures.",
                "A registry name only your proxy can resolve is slow when its DNS is; an internal registry reached "
                "without the proxy (noproxy) avoids that hop.",
            ),
            count=len(waiting),
            rank=14,
        )
    ]

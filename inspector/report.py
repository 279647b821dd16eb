"""Headless reports of a session: text for terminals, JSON for CI, Markdown for support tickets.

Every value shown here is already redacted by the capture; URLs from config
are masked again on the way out, so a report can be pasted anywhere.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .diagnose import Finding
from .diagnose.tools import tool_name
from .lines import exchange_line
from .records import Exchange, Timings
from .redact import redact_argv, redact_text, redact_url
from .session import RunRecord, SessionInfo

REPORT_SCHEMA = "npm-inspect/report@1"
FORMATS = ("text", "json", "markdown")


def exchange_summary(exchange: Exchange) -> dict[str, Any]:
    """One exchange in the JSON report."""
    timings = {k: getattr(exchange.timings, k) for k in Timings.__dataclass_fields__}
    ev = exchange.evidence
    return {
        "id": exchange.id,
        "seq": exchange.seq,
        "run": exchange.run,
        "kind": exchange.kind,
        "method": exchange.method,
        "scheme": exchange.scheme or None,
        "host": exchange.host,
        "port": exchange.port,
        "path": exchange.path or None,
        "status": exchange.status,
        "reason": exchange.reason or None,
        "hop": exchange.hop.value if exchange.hop else None,
        "upstream": exchange.upstream,
        "timings": timings,
        "evidence": {
            "status_line": ev.status_line or None,
            "server": ev.server,
            "via": ev.via,
            "x_squid_error": ev.squid_error,
            "proxy_authenticate": list(ev.proxy_authenticate),
            "www_authenticate": list(ev.www_authenticate),
            "error_body": ev.error_body,
            "reason": ev.reason or None,
        },
        "proxy_authorization_sent": exchange.proxy_auth is not None,
        "authorization_sent": exchange.auth is not None,
        "npm_command": exchange.npm.command,
        "bytes": {"sent": exchange.bytes_sent, "received": exchange.bytes_received},
        "error": {"kind": exchange.error.kind, "message": exchange.error.message} if exchange.error else None,
    }


def json_report(
    info: SessionInfo,
    exchanges: list[Exchange],
    findings: list[Finding],
    verify: list[dict[str, Any]] | None = None,
    run: int | None = None,
) -> dict[str, Any]:
    """``run``: the npm run the findings are about (the latest by default); ``runs`` lists every run."""
    data = {
        "schema": REPORT_SCHEMA,
        "npm": {"argv": redact_argv(info.npm_argv), "exit": info.exit_of(run), "error": _npm_error(info, run)},
        "tool": {"name": info.tool, "version": info.tool_version or (info.npm_version if info.tool == "npm" else None),
                 "display": info.tool_label, "notes": list(info.tool_notes)},
        "runs": [_run_json(r) for r in info.runs],
        "upstream": redact_url(info.upstream) if info.upstream else None,
        "mode": info.mode,
        "versions": {"npm-inspect": info.inspector_version, "npm": info.npm_version, "node": info.node_version},
        "exchanges": [exchange_summary(e) for e in exchanges],
        "findings": [_finding_json(f) for f in findings],
    }
    if verify is not None:
        data["verify"] = verify
    return data


def _run_json(record: RunRecord) -> dict[str, Any]:
    return {"run": record.number, "fix": record.fix, "exit": record.exit_code, "error_code": record.error_code}


def _npm_error(info: SessionInfo, run: int | None = None) -> dict[str, Any] | None:
    """npm's own error code and message when it failed (from its output or debug log), already redacted."""
    outcome = info.outcome(run)
    if outcome is None or not outcome.failed:
        return None
    return {
        "code": outcome.code,
        "message": list(outcome.message),
        "source": outcome.source or None,
        "log_file": outcome.log_file,
    }


def _npm_said(info: SessionInfo, run: int | None = None) -> str | None:
    outcome = info.outcome(run)
    if outcome is None or not outcome.failed or not (outcome.code or outcome.message):
        return None
    return redact_text(outcome.headline)


def _finding_json(finding: Finding) -> dict[str, Any]:
    data = finding.to_dict()
    data["evidence"] = [{"exchange": e.exchange_id, "seq": e.seq, "excerpt": e.excerpt} for e in finding.evidence]
    return data


def failures_by_hop(exchanges: list[Exchange]) -> dict[str, Counter[str]]:
    groups: dict[str, Counter[str]] = {}
    for e in exchanges:
        if not e.failed:
            continue
        hop = e.hop.value if e.hop else "?"
        label = str(e.status) if e.status is not None else (e.error.kind if e.error else "?")
        groups.setdefault(hop, Counter())[label] += 1
    return groups


def _command_line(info: SessionInfo) -> str:
    return " ".join(redact_argv(info.npm_argv)) or "(no npm command)"


def _verify_lines(verify: list[dict[str, Any]] | None) -> list[str]:
    if verify is None:
        return []
    lines = ["Fix verification (on a temporary copy of your config):"]
    if not verify:
        lines.append("  no finding has a config change to try")
    for item in verify:
        verdict = {True: "FIXED", False: "still failing", None: "not tried"}[item["passed"]]
        exit_part = f" (run {item['run']}: npm exit {item['exit']})" if item.get("run") else (f" (npm exit {item['exit']})" if item.get("exit") is not None else "")
        gone = {True: " — the finding is gone", False: " — the finding is still there"}.get(item.get("gone"), "")
        lines.append(f"  {item['rule']}: {verdict}{exit_part}{gone}" + (f" — {item['note']}" if item.get("note") else ""))
        for command in item.get("applied") or ():
            lines.append(f"      applied: {command}")
    return lines


def text_report(
    info: SessionInfo,
    exchanges: list[Exchange],
    findings: list[Finding],
    verify: list[dict[str, Any]] | None = None,
    run: int | None = None,
) -> str:
    exit_code = info.exit_of(run)
    lines = [
        "",
        f"npm-inspect: {_command_line(info)} → exit {exit_code if exit_code is not None else '-'}"
        f" · upstream {redact_url(info.upstream) if info.upstream else 'none (direct)'} · {info.mode}",
    ]
    if info.tool != "npm":
        lines.append(f"tool: {info.tool_label}")
    lines += [f"note: {note}" for note in info.tool_notes]
    runs = info.runs_line()
    if runs:
        lines.append(f"runs: {runs}")
    lines.append(f"{len(exchanges)} exchange(s):")
    several = len(info.runs) > 1
    for e in exchanges:
        lines.append(f"  {e.seq:>4}  {'r' + str(e.run) + '  ' if several else ''}{exchange_line(e)}")
    said = _npm_said(info, run)
    if said:
        lines.append(f"{tool_name(info.tool)} said: {said}")
    groups = failures_by_hop(exchanges)
    if groups:
        lines.append("Failures by hop:")
        for hop, counter in sorted(groups.items()):
            detail = ", ".join(f"{label} ×{n}" for label, n in counter.most_common())
            lines.append(f"  {hop}: {detail}")
    elif exit_code:
        lines.append(f"No failed exchange on the wire, but npm exited {exit_code}: see the findings.")
    else:
        lines.append("No failures.")
    if findings:
        lines.append("Findings (root cause first):")
        for i, f in enumerate(findings, 1):
            count = f" ×{f.count}" if f.count > 1 else ""
            lines.append(f"  {i}. [{f.severity}] {f.rule} · hop {f.hop.value}{count} — {f.title}")
            for para in f.explanation.splitlines():
                lines.append(f"       {para}")
            for cmd in f.commands:
                first, *rest = cmd.splitlines() or [""]
                lines.append(f"       $ {first}")
                lines.extend(f"         {line}" for line in rest)  # a file edit (bunfig.toml, .yarnrc): its lines
            for caveat in f.caveats:
                lines.append(f"       ! {caveat}")
    lines += _verify_lines(verify)
    return "\n".join(lines) + "\n"


def markdown_report(
    info: SessionInfo,
    exchanges: list[Exchange],
    findings: list[Finding],
    verify: list[dict[str, Any]] | None = None,
    run: int | None = None,
) -> str:
    exit_code = info.exit_of(run)
    out = [
        "# npm-inspect report",
        "",
        f"- **Command:** `{_command_line(info)}` (exit {exit_code if exit_code is not None else '-'})",
        f"- **Upstream proxy:** {('`' + redact_url(info.upstream) + '`') if info.upstream else 'none (direct)'}",
        f"- **Mode:** {info.mode}",
        f"- **Versions:** npm-inspect {info.inspector_version or '?'}, "
        + (f"npm {info.npm_version or '?'}, node {info.node_version or '?'}" if info.tool == "npm" else info.tool_label),
        *(f"- **Note:** {_md_code(note)}" for note in info.tool_notes),
        "",
        "## Findings",
        "",
    ]
    said = _npm_said(info, run)
    if said:
        out.insert(out.index("## Findings") - 1, f"- **{tool_name(info.tool)} said:** `{_md_code(said)}`")
    runs = info.runs_line()
    if runs:
        out.insert(out.index("## Findings") - 1, f"- **Runs:** {_md_code(runs)}")
    if not findings:
        out.append("No problems found." if not exit_code else f"npm exited {exit_code}; no rule explains it.")
    for i, f in enumerate(findings, 1):
        count = f" (×{f.count})" if f.count > 1 else ""
        out += [f"### {i}. {f.title}{count}", "", f"`{f.rule}` · severity **{f.severity}** · hop **{f.hop.value}**", ""]
        out += [f.explanation, ""]
        if f.commands:
            out += ["Fix:", "", "```sh", *f.commands, "```", ""]
        if f.caveats:
            out += [*(f"> {c}" for c in f.caveats), ""]
        if f.evidence:
            out.append("Evidence:")
            out.append("")
            for ev in f.evidence[:5]:
                out.append(f"- exchange #{ev.seq}: `{_md_code(ev.excerpt)}`")
            out.append("")
    if verify is not None:
        out += ["## Fix verification", "", *(f"- {line.strip()}" for line in _verify_lines(verify)[1:]), ""]
    out += ["## Exchanges", "", "| # | run | method | target | status | hop | ms |", "|---|---|---|---|---|---|---|"]
    for e in exchanges:
        status = str(e.status) if e.status is not None else (e.error.kind if e.error else "-")
        total = f"{e.timings.total:.0f}" if e.timings.total is not None else "-"
        out.append(
            f"| {e.seq} | {e.run} | {e.method} | `{_md_code(e.url)}` | {status} | {e.hop.value if e.hop else '?'} | {total} |"
        )
    return "\n".join(out) + "\n"


def _md_code(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|").replace("\n", " ")[:300]


def render(
    fmt: str,
    info: SessionInfo,
    exchanges: list[Exchange],
    findings: list[Finding],
    verify: list[dict[str, Any]] | None = None,
    run: int | None = None,
) -> str:
    if fmt == "json":
        return json.dumps(json_report(info, exchanges, findings, verify, run), indent=2) + "\n"
    if fmt == "markdown":
        return markdown_report(info, exchanges, findings, verify, run)
    return text_report(info, exchanges, findings, verify, run)

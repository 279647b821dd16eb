"""HAR export and re-open of 100,000 exchanges: time and peak memory, at 10,000 and 100,000 side by side.

    .venv/bin/python bench/har.py [--counts 10000,100000]

Each figure comes from its own child process (so one measurement's garbage
does not weigh on the next): it builds the synthetic records, then times
``write_har`` (export, leak-checked against a session vault) and ``read_har``
(re-open). Memory is measured in a second pass under ``tracemalloc``: the
peak *above* the records themselves (the input of an export, the result of a
re-open), which is what streaming keeps flat in the count. Targets: ≤ 5 s each
for 100,000 exchanges, and memory flat in the count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector.records import CredentialInfo, ErrorInfo, Evidence, Exchange, Hop, NpmIdentity, Timings, TlsInfo  # noqa: E402
from inspector.session import SessionInfo  # noqa: E402
from inspector.vault import SecretVault  # noqa: E402

_UA = "npm/11.19.1 node/v20.20.2 linux x64 workspaces/false"
_STATUSES = (200, 200, 200, 200, 304, 200, 407, 401, 403, 404)
_PEM = "-----BEGIN CERTIFICATE-----\n" + "MIIB" * 200 + "\n-----END CERTIFICATE-----\n"


def synthetic(n: int) -> Exchange:
    """A plausible redacted record: mostly packuments and tarballs, some CONNECTs and failures."""
    status = _STATUSES[n % len(_STATUSES)]
    name = f"package-{n % 5000}"
    connect = n % 25 == 0
    failed = status >= 400
    return Exchange(
        id=f"{n:032x}",
        seq=n,
        kind="connect" if connect else "http",
        started=1_795_550_000.0 + n / 5000,
        method="CONNECT" if connect else "GET",
        scheme="" if connect else "https",
        host="registry.npmjs.org",
        port=443,
        path="" if connect else (f"/{name}/-/{name}-1.0.{n % 97}.tgz" if n % 2 else f"/{name}"),
        status=status,
        reason="OK" if status < 400 else "Forbidden",
        hop=Hop.PROXY if connect or status == 407 else Hop.REGISTRY,
        upstream="10.0.0.8:3128",
        timings=Timings(client=0.4, upstream_connect=1.2, connect=3.4, tls=8.1, send=0.1, wait=22.5, receive=3.3, total=39.0),
        evidence=Evidence(
            status_line=f"HTTP/1.1 {status} OK",
            server="Verdaccio/6",
            via="1.1 proxy (squid/5.7)" if n % 3 == 0 else None,
            error_body='{"error":"user bob is not allowed to access package"}' if failed else None,
            reason="answer relayed from the registry",
        ),
        request_headers=(
            ("user-agent", _UA),
            ("npm-command", "install"),
            ("pacote-req-type", "packument"),
            ("accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"),
            ("accept-encoding", "gzip,deflate"),
            ("authorization", "[redacted:1a2b3c4d]"),
            ("host", "registry.npmjs.org"),
        ),
        response_headers=(
            ("content-type", "application/json"),
            ("content-length", "1200"),
            ("etag", f'"{n:x}"'),
            ("x-powered-by", "verdaccio/6"),
            ("date", "Tue, 24 Nov 2026 10:00:00 GMT"),
        ),
        npm=NpmIdentity(command="install", user_agent=_UA, request_type="packument"),
        auth=CredentialInfo("Bearer", "1a2b3c4d"),
        proxy_auth=CredentialInfo("Basic", "9f8e7d6c", "carol"),
        bytes_sent=0,
        bytes_received=1200 + n % 50_000,
        content_type="application/json",
        body_preview='{"error":"user bob is not allowed to access package"}' if failed else None,
        tls=TlsInfo(sni="registry.npmjs.org", version="TLSv1.3", issuer="CN=Corp CA", subject="CN=registry.npmjs.org", chain=("CN=Corp CA",), chain_pem=_PEM if n % 1000 == 0 else None),
        error=ErrorInfo("reset", "connection reset by peer") if n % 97 == 0 else None,
        run=1 + n % 2,
    )


def vault() -> SecretVault:
    """A session vault with a dozen secrets (proxy passwords, tokens, cookies): the export's leak check searches for each."""
    v = SecretVault()
    for i in range(12):
        v.remember(f"npm_{i:02d}SecretTokenValueThatIsLong{i * 7919:08d}")
    return v


def child(op: str, count: int, measure: str) -> dict[str, float]:
    """One measurement in this process: ``op`` is ``export`` or ``reopen``, ``measure`` is ``time`` or ``memory``."""
    from inspector.har import read_har, write_har

    records = [synthetic(n) for n in range(1, count + 1)]
    info = SessionInfo(npm_argv=["npm", "install"], npm_exit=1)
    target = Path(tempfile.mkdtemp(prefix="npm-inspect-har-")) / "bench.har"
    secrets = vault()
    if op == "reopen":
        write_har(target, records, info, vault=secrets)
        del records
    if measure == "memory":
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if measure == "memory" else 0
    start = time.perf_counter()
    if op == "export":
        write_har(target, records, info, vault=secrets)
        kept = before
    else:
        result, _, _ = read_har(target)
        assert len(result) == count, len(result)
    elapsed = time.perf_counter() - start
    out = {"seconds": elapsed, "bytes": target.stat().st_size}
    if measure == "memory":
        current, peak = tracemalloc.get_traced_memory()
        kept = before if op == "export" else current  # the input records / the records read back
        out["extra_mb"] = (peak - kept) / 1e6
        tracemalloc.stop()
    target.unlink()
    return out


def run_child(op: str, count: int, measure: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", op, str(count), measure], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"bench child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="10000,100000")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        op, count, measure = args.child
        print(json.dumps(child(op, int(count), measure)))
        return
    counts = [int(c) for c in args.counts.split(",")]
    load = os.getloadavg()
    print(f"HAR export (write_har, leak-checked) and re-open (read_har); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"  {'exchanges':>10} {'file MB':>8} | {'export s':>8} {'extra MB':>8} | {'re-open s':>9} {'extra MB':>8}")
    for count in counts:
        export_t, reopen_t = run_child("export", count, "time"), run_child("reopen", count, "time")
        export_m, reopen_m = run_child("export", count, "memory"), run_child("reopen", count, "memory")
        print(
            f"  {count:>10,} {export_t['bytes'] / 1e6:>8.1f} | {export_t['seconds']:>8.2f} {export_m['extra_mb']:>8.1f} |"
            f" {reopen_t['seconds']:>9.2f} {reopen_m['extra_mb']:>8.1f}"
        )
    print("  extra MB: peak traced memory above the records themselves (the export's input, the re-open's result)")
    print("  targets: ≤ 5 s each at 100,000 exchanges; extra memory flat in the count")


if __name__ == "__main__":
    main()

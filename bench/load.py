"""Load: 10,000 requests over 200 keep-alive connections, through npm-inspect and through bare mitmdump.

    .venv/bin/python bench/load.py [--total 10000] [--concurrency 200] [--rounds 3]

Prints, from one run, what each side counted (client, origin server,
npm-inspect's store and session file) and the throughput of npm-inspect
against bare ``mitmdump`` on the same load, in interleaved rounds (medians),
with the CPU each side spent per 1,000 requests (steadier than wall time on a
shared machine). The origin and the load client run in their own processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector.ca import ensure_ca  # noqa: E402
from inspector.journal import JournalWriter, read_journal  # noqa: E402
from inspector.proxy import InspectorProxy, ProxyConfig  # noqa: E402
from inspector.session import SessionInfo, SessionStore  # noqa: E402
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until  # noqa: E402


def load(proxy_port: int, origin_port: int, total: int, concurrency: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tests.lab.load", str(proxy_port), str(origin_port), str(total), str(concurrency)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )
    return json.loads(out.stdout)


def origin_count(port: int) -> int:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"http://127.0.0.1:{port}/-/count") as r:
        return int(r.read())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each side (medians are printed)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="npm-inspect-load-"))
    origin_port = free_port()
    origin = ManagedProcess([sys.executable, "-m", "tests.lab.origin", str(origin_port)], log=tmp / "origin.log", cwd=ROOT)
    wait_until(lambda: port_open(origin_port), timeout=15, what="origin")
    ensure_ca(tmp / "ca")
    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {"bare": [], "ours": []}
    cpu: dict[str, list[float]] = {"bare": [], "ours": []}
    try:
        for round_ in range(args.rounds):
            for side in ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare"):
                if side == "bare":
                    mitm_port = free_port()
                    mitmdump = ManagedProcess(
                        [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", "127.0.0.1", "-p", str(mitm_port), "--set", f"confdir={tmp / 'ca'}"],
                        log=tmp / "mitmdump.log",
                    )
                    wait_until(lambda: port_open(mitm_port), timeout=30, what="mitmdump")
                    pid = mitmdump.proc.pid
                    before = cpu_seconds(pid)
                    result = load(mitm_port, origin_port, args.total, args.concurrency)
                    cpu["bare"].append(cpu_seconds(pid) - before)
                    mitmdump.stop()
                    rates["bare"].append(result["ok"] / result["seconds"])
                    continue
                store = SessionStore()
                proxy = InspectorProxy(ProxyConfig(confdir=tmp / "ca"), store.add).start()
                journal = JournalWriter(tmp / f"load-{round_}.jsonl", store, SessionInfo(), None).start()
                before_served = origin_count(origin_port)
                before = cpu_seconds(os.getpid())
                ours = load(proxy.port, origin_port, args.total, args.concurrency)
                wait_until(lambda: len(store) >= ours["ok"], timeout=60, what="records")
                journal.flush()
                cpu["ours"].append(cpu_seconds(os.getpid()) - before)
                proxy.stop()
                journal.close()
                rates["ours"].append(ours["ok"] / ours["seconds"])
                served = origin_count(origin_port) - before_served
                journaled = len(read_journal(tmp / f"load-{round_}.jsonl").exchanges)
                counts = (ours, served, len(store), journaled)
    finally:
        origin.stop()
    load_after = os.getloadavg()
    ours, served, captured, journaled = counts
    bare, mine = statistics.median(rates["bare"]), statistics.median(rates["ours"])
    per_k = {side: statistics.median(values) / args.total * 1000 for side, values in cpu.items()}
    print(f"{args.total} requests over {args.concurrency} connections, plain HTTP keep-alive, loopback; {args.rounds} interleaved rounds")
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} cores)")
    print(f"  bare mitmdump : {bare:.0f} req/s median ({', '.join(f'{r:.0f}' for r in rates['bare'])}); CPU {per_k['bare'] * 1000:.0f} ms per 1,000 requests")
    print(f"  npm-inspect   : {mine:.0f} req/s median ({', '.join(f'{r:.0f}' for r in rates['ours'])}); CPU {per_k['ours'] * 1000:.0f} ms per 1,000 requests")
    print(f"  counts (last round): client {ours['ok']} ok, {ours['failed']} failed = origin {served} = captured {captured} = session file {journaled}")
    print(f"  throughput ratio npm-inspect / bare mitmdump: {mine / bare:.3f}  (target ≥ 0.95)")
    print(f"  CPU ratio npm-inspect / bare mitmdump:        {per_k['ours'] / per_k['bare']:.3f}  (proxy, capture, record builder and journal threads)")


if __name__ == "__main__":
    main()

"""Load: 10,000 requests over 200 keep-alive connections, through npm-inspect and through bare mitmdump.

    .venv/bin/python bench/load.py [--total 10000] [--concurrency 200]

Prints, from one run, what each side counted (client, origin server,
npm-inspect's store and session file) and the throughput of npm-inspect
against bare ``mitmdump`` on the same load. The origin and the load client run
in their own processes.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="npm-inspect-load-"))
    origin_port = free_port()
    origin = ManagedProcess([sys.executable, "-m", "tests.lab.origin", str(origin_port)], log=tmp / "origin.log", cwd=ROOT)
    wait_until(lambda: port_open(origin_port), timeout=15, what="origin")
    ensure_ca(tmp / "ca")
    try:
        mitm_port = free_port()
        mitmdump = ManagedProcess(
            [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", "127.0.0.1", "-p", str(mitm_port), "--set", f"confdir={tmp / 'ca'}"],
            log=tmp / "mitmdump.log",
        )
        wait_until(lambda: port_open(mitm_port), timeout=30, what="mitmdump")
        bare = load(mitm_port, origin_port, args.total, args.concurrency)
        mitmdump.stop()

        store = SessionStore()
        proxy = InspectorProxy(ProxyConfig(confdir=tmp / "ca"), store.add).start()
        journal = JournalWriter(tmp / "load.jsonl", store, SessionInfo(), None).start()
        before = origin_count(origin_port)
        ours = load(proxy.port, origin_port, args.total, args.concurrency)
        wait_until(lambda: len(store) >= ours["ok"], timeout=60, what="records")
        proxy.stop()
        journal.close()
        served = origin_count(origin_port) - before
        journaled = len(read_journal(tmp / "load.jsonl").exchanges)
    finally:
        origin.stop()
    print(f"{args.total} requests over {args.concurrency} connections, plain HTTP keep-alive, loopback")
    print(f"  bare mitmdump : {bare['ok']} ok, {bare['failed']} failed, {bare['ok'] / bare['seconds']:.0f} req/s")
    print(f"  npm-inspect   : {ours['ok']} ok, {ours['failed']} failed, {ours['ok'] / ours['seconds']:.0f} req/s")
    print(f"  counts        : client {ours['ok']} = origin {served} = captured {len(store)} = session file {journaled}")
    print(f"  throughput ratio npm-inspect / bare mitmdump: {(ours['ok'] / ours['seconds']) / (bare['ok'] / bare['seconds']):.3f}")


if __name__ == "__main__":
    main()

"""Can the dashboard keep up? Synthetic records at 5,000/s into the headless app until 100,000 rows.

    .venv/bin/python bench/dashboard.py [--rate 5000] [--count 100000]

A feeder thread adds records to the session store the way the proxy thread
does; the app (``App.run_test``, headless) ingests them on its timer while a
key press ("up"/"down") is sent every 50 ms. Prints: records/s absorbed into
the table, peak RSS and bytes per record, and the p50/p99 latency from a key
press to the next frame written. Targets: ≥ 5,000 records/s, p99 < 100 ms,
≤ 2 KB per record.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector.records import CredentialInfo, Evidence, Exchange, Hop, NpmIdentity, Timings  # noqa: E402
from inspector.session import SessionInfo, SessionStore  # noqa: E402
from inspector.tui.app import InspectorApp  # noqa: E402


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


_UA = "npm/11.19.1 node/v20.20.2 linux x64 workspaces/false"
_STATUSES = (200, 200, 200, 200, 304, 200, 407, 401, 403, 404)


def synthetic(n: int) -> Exchange:
    status = _STATUSES[n % len(_STATUSES)]
    hop = Hop.PROXY if status == 407 else Hop.REGISTRY
    name = f"package-{n % 5000}"
    return Exchange(
        id=f"{n:032x}",
        seq=n,
        kind="http",
        started=1_795_550_000.0 + n / 5000,
        method="GET",
        scheme="https",
        host="registry.npmjs.org",
        port=443,
        path=f"/{name}/-/{name}-1.0.{n % 97}.tgz" if n % 2 else f"/{name}",
        status=status,
        reason="OK",
        hop=hop,
        upstream="10.0.0.8:3128",
        timings=Timings(send=0.1, wait=20.0 + n % 50, receive=3.0, total=24.0 + n % 50),
        evidence=Evidence(status_line=f"HTTP/1.1 {status} OK", reason="answer relayed from the registry"),
        request_headers=(("host", "registry.npmjs.org"), ("user-agent", _UA), ("npm-command", "install"), ("accept", "application/json")),
        response_headers=(("content-type", "application/json"), ("content-length", "1234"), ("etag", f'"{n:x}"')),
        npm=NpmIdentity(command="install", user_agent=_UA),
        proxy_auth=CredentialInfo("Basic", "5f2a9c1e", "carol"),
        bytes_received=1234,
        content_type="application/json",
    )


async def run(rate: int, count: int) -> None:
    store = SessionStore()
    app = InspectorApp(store, info=SessionInfo(npm_argv=["npm", "install"], listen="127.0.0.1:0"), source="live")
    frames: list[float] = []
    original = app._display

    def display(screen, renderable):
        frames.append(time.perf_counter())
        return original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    gc.collect()
    base_rss = rss_kb()
    records = [synthetic(n) for n in range(count)]  # built up front: the feeder only pays store.add
    record_rss = rss_kb() - base_rss

    done = threading.Event()

    def feed() -> None:
        batch = max(1, rate // 100)
        start = time.perf_counter()
        for i in range(0, count, batch):
            for record in records[i : i + batch]:
                store.add(record)
            target = start + (i + batch) / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        done.set()

    latencies: list[float] = []
    max_lag = 0
    fed_at: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.5)
        t_start = time.perf_counter()
        threading.Thread(target=feed, daemon=True).start()
        key = "up"
        while len(app.table.rows) < count:
            pressed = time.perf_counter()
            seen = len(frames)
            await pilot.press(key)
            key = "down" if key == "up" else "up"
            while len(frames) == seen and time.perf_counter() - pressed < 2:
                await asyncio.sleep(0.001)
            if len(frames) > seen:
                latencies.append((frames[seen] - pressed) * 1000)
            max_lag = max(max_lag, len(store) - len(app.table.rows))
            if done.is_set() and not fed_at:
                fed_at.append(time.perf_counter())
            await asyncio.sleep(0.05)
            if time.perf_counter() - t_start > count / rate * 4 + 30:
                break
        absorbed_at = time.perf_counter()
        rows = len(app.table.rows)
        await pilot.press("q")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    elapsed = absorbed_at - t_start
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    per_record = record_rss * 1024 / count
    print(f"fed {count} records at {rate}/s; the table shows {rows} rows")
    feed_time = (fed_at[0] if fed_at else absorbed_at) - t_start
    print(f"records/s offered by the feeder   : {count / feed_time:,.0f}")
    print(f"records/s absorbed into the table : {rows / elapsed:,.0f}   (target ≥ 5,000; the feed rate caps it)")
    print(f"largest backlog while feeding     : {max_lag:,} records (≈ {max_lag / rate * 1000:.0f} ms of traffic; the view refreshes every 200 ms)")
    print(f"key press → next frame            : p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(latencies)} presses (target p99 < 100 ms)")
    print(f"peak RSS                          : {peak / 1024:.0f} MB")
    print(f"memory per record                 : {per_record:,.0f} bytes   (target ≤ 2,048; records as the store holds them)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(run(args.rate, args.count))


if __name__ == "__main__":
    main()

"""A thousand-package ``npm install`` through the live dashboard, headless, and bare, side by side in one run.

    .venv/bin/python bench/big_install.py [--groups 40] [--per-group 25] [--runs 3]

The lab's Verdaccio (HTTPS, behind Squid) holds a two-level tree of ``1 + groups × (1 + per-group)`` packages
(1,041 by default), written straight into its storage. Each round installs the whole tree with a fresh cache and
no ``node_modules``, in turn (the order rotates from round to round, so machine noise hits all four alike):

- **squid**: bare ``npm install`` straight through Squid;
- **headless**: ``npm-inspect run --report-file /dev/null -- npm install …``, timed to its exit;
- **dashboard**: ``npm-inspect -- npm install …`` in a real terminal (tmux, on a private tmux server, 200×50),
  timed from the launch to npm's ``[exit 0]`` in the status bar, then ``q`` and timed again to the process exit;
  nobody touches the keyboard;
- **dashboard+keys**: the same, with a key every 200 ms all through the install (below): what browsing costs.

Peak RSS and CPU of npm-inspect's own process (proxy, capture, journal and, for the dashboard, Textual; npm is a
child and not counted) are sampled from ``/proc/PID/status`` (``VmHWM``) every 100 ms.

**Key → frame** is measured in the real terminal, while the install runs: once the table holds 150 rows, ``Home``
and ``d`` (the detail tab) are pressed, then ``PageDown``/``PageUp`` alternate every 200 ms. Each key moves the
focus between two known rows, and the detail pane then shows that row's start time to the millisecond (text that
appears nowhere else on screen). The latency is the time from sending the key (``send-keys`` on a tmux control-mode
client, no process per key) to the first bytes of the app's output, as tmux relays it, that hold the new row's
start time: the key's own frame, not whichever frame came next. A key with no such frame within 2 s counts as
missed. Targets: dashboard install time close to headless; p99 key → frame < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from _lab import lab, median

from tests.lab.npm import NpmEnv

TMUX = ["tmux", "-L", f"npm-inspect-bench-{os.getpid()}", "-f", "/dev/null"]
"""A private tmux server: nobody else's sessions, and its options are ours to set."""

SIZE = (200, 50)
KEY_EVERY = 0.2
KEY_TIMEOUT = 2.0
ROWS_BEFORE_KEYS = 150


class Sampler(threading.Thread):
    """Peak RSS (VmHWM) and CPU seconds of one process, sampled until it is gone."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.cpu = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self._done.is_set():
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return
            if "\nState:\tZ" in status:
                return
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            self.cpu = (int(stat[11]) + int(stat[12])) / tick
            self._done.wait(0.1)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=2)


def fresh(npm: NpmEnv) -> None:
    shutil.rmtree(npm.cache, ignore_errors=True)
    shutil.rmtree(npm.project / "node_modules", ignore_errors=True)
    npm.cache.mkdir()


def install_args(root: str) -> list[str]:
    return ["install", root, "--no-package-lock"]


def bare(npm: NpmEnv, root: str) -> dict:
    fresh(npm)
    start = time.perf_counter()
    result = subprocess.run([npm.npm, *install_args(root)], cwd=npm.project, env=npm.env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"bare npm install failed:\n{result.stderr[-2000:]}")
    return {"seconds": elapsed}


def headless(npm: NpmEnv, root: str, home: Path) -> dict:
    fresh(npm)
    argv = [sys.executable, "-m", "inspector", "run", "--report-file", os.devnull, "--", "npm", *install_args(root)]
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=npm.project, env=npm.env(NPM_INSPECT_HOME=str(home)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(process.pid)
    sampler.start()
    _, err = process.communicate()
    elapsed = time.perf_counter() - start
    sampler.stop()
    if process.returncode != 0:
        raise SystemExit(f"npm-inspect run failed ({process.returncode}):\n{err[-2000:]}")
    return {"seconds": elapsed, "peak_kb": sampler.peak_kb, "cpu": sampler.cpu}


class Control:
    """A tmux control-mode client: sends commands without a process each, and timestamps the pane's output."""

    _OUTPUT = re.compile(rb"^%output %\d+ (.*)$")
    _EXIT = re.compile(rb"\[exit (\d+)\]")

    def __init__(self, session: str) -> None:
        self.process = subprocess.Popen([*TMUX, "-C", "attach", "-t", session], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.chunks: list[tuple[float, bytes]] = []
        self.exit_at: float | None = None
        self.exit_code: int | None = None
        self.closed = threading.Event()
        self._tail = b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            now = time.perf_counter()
            match = self._OUTPUT.match(line.rstrip(b"\n"))
            if match is None:
                continue
            data = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), match[1])
            self.chunks.append((now, data))
            if self.exit_at is None:
                found = self._EXIT.search(self._tail + data)
                if found:
                    self.exit_at, self.exit_code = now, int(found[1])
                self._tail = data[-16:]
        self.closed.set()

    def send(self, *keys: str) -> float:
        assert self.process.stdin is not None
        sent = time.perf_counter()
        self.process.stdin.write(f"send-keys {' '.join(keys)}\n".encode())
        return sent

    def wait_for(self, text: bytes, since: int, timeout: float) -> float | None:
        """When ``text`` first appeared in the output from chunk ``since`` on (None after ``timeout``)."""
        deadline = time.perf_counter() + timeout
        seen = b""
        i = since
        while time.perf_counter() < deadline:
            while i < len(self.chunks):
                at, data = self.chunks[i]
                seen = seen[-len(text):] + data
                i += 1
                if text in seen:
                    return at
            time.sleep(0.002)
        return None

    def close(self) -> None:
        if self.process.poll() is None:
            with_stdin = self.process.stdin
            if with_stdin is not None:
                with_stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=False).stdout


_STARTED = re.compile(r"started\s+(\d\d:\d\d:\d\d\.\d{3})")
_ROWS = re.compile(r"(\d+) / (\d+) rows")


def focused_start(session: str, previous: str | None = None, timeout: float = 5.0) -> str:
    """The detail pane's start time (to the ms) once it shows, and differs from ``previous``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        found = _STARTED.search(tmux("capture-pane", "-p", "-J", "-t", session))
        if found and found[1] != previous:
            return found[1]
        time.sleep(0.05)
    raise SystemExit(f"the detail pane did not show a start time:\n{tmux('capture-pane', '-p', '-t', session)}")


def dashboard(npm: NpmEnv, root: str, home: Path, key_every: float = KEY_EVERY) -> dict:
    fresh(npm)
    session = f"big-{os.getpid()}"
    env = npm.env(NPM_INSPECT_HOME=str(home), TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "inspector", "--", "npm", *install_args(root)])
    width, height = SIZE
    start = time.perf_counter()
    subprocess.run(
        [*TMUX, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), "-c", str(npm.project), f"exec env -i {exports} {command}",
         ";", "set-option", "-t", session, "remain-on-exit", "on"],
        check=True,
    )
    pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
    sampler = Sampler(pid)
    sampler.start()
    control = Control(session)
    latencies: list[float] = []
    missed = 0
    try:
        # wait for rows, then fix the focus on two known rows (Home; the detail tab)
        deadline = time.perf_counter() + 120
        while key_every > 0:
            rows = _ROWS.search(tmux("capture-pane", "-p", "-J", "-t", session))
            if rows and int(rows[1]) >= ROWS_BEFORE_KEYS:
                break
            if control.exit_at is not None or time.perf_counter() > deadline:
                raise SystemExit(f"the table never reached {ROWS_BEFORE_KEYS} rows:\n{tmux('capture-pane', '-p', '-t', session)}")
            time.sleep(0.1)
        if key_every > 0:
            control.send("-t", session, "Home", "d")
            top = focused_start(session)
            control.send("-t", session, "PageDown")
            paged = focused_start(session, previous=top)
            expect = {"PageUp": top.encode(), "PageDown": paged.encode()}
        key = "PageUp"
        while control.exit_at is None and key_every > 0:
            since = len(control.chunks)
            sent = control.send("-t", session, key)
            shown = control.wait_for(expect[key], since, KEY_TIMEOUT)
            if control.exit_at is not None and (shown is None or shown > control.exit_at):
                break  # npm ended meanwhile: this key does not count
            if shown is None:
                missed += 1
            else:
                latencies.append((shown - sent) * 1000)
            key = "PageDown" if key == "PageUp" else "PageUp"
            time.sleep(max(0.0, sent + key_every - time.perf_counter()))
        wait_deadline = time.perf_counter() + 600
        while control.exit_at is None and time.perf_counter() < wait_deadline:
            time.sleep(0.05)
        if control.exit_at is None:
            raise SystemExit(f"npm did not finish in the dashboard:\n{tmux('capture-pane', '-p', '-t', session)}")
        if control.exit_code != 0:
            raise SystemExit(f"npm failed in the dashboard:\n{tmux('capture-pane', '-p', '-t', session)}")
        time.sleep(0.3)  # the last records reach the table (it refreshes every 200 ms)
        screen = tmux("capture-pane", "-p", "-J", "-t", session)
        rows = _ROWS.search(screen)
        control.send("-t", session, "q")
        quit_deadline = time.perf_counter() + 60
        while tmux("display-message", "-p", "-t", session, "#{pane_dead}").strip() != "1":
            if time.perf_counter() > quit_deadline:
                raise SystemExit(f"the dashboard did not quit:\n{tmux('capture-pane', '-p', '-t', session)}")
            time.sleep(0.02)
        quit_at = time.perf_counter()
    finally:
        sampler.stop()
        tmux("kill-session", "-t", session)
        control.close()
    return {
        "seconds": control.exit_at - start,
        "to_quit": quit_at - start,
        "peak_kb": sampler.peak_kb,
        "cpu": sampler.cpu,
        "latencies": latencies,
        "missed": missed,
        "rows": int(rows[2]) if rows else 0,
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--per-group", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--key-every", type=float, default=KEY_EVERY, help="seconds between keys in the dashboard+keys runs")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is missing: run ./dev test once (it installs it)")

    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {"squid": [], "headless": [], "dashboard": [], "dashboard+keys": []}
    with lab(0, "big", layers=(args.groups, args.per_group)) as world:
        home = world.tmp / "home"
        registry = world.verdaccio.url("https")
        npm = NpmEnv(world.tmp / "npm", [f"registry={registry}", f"cafile={world.ca.cert}", f"https-proxy={world.squid.url}"])
        bare(npm, world.root_package)  # warm Verdaccio and the OS caches once
        try:
            for i in range(args.runs):
                order = list(results)
                order = order[i % 4 :] + order[: i % 4]
                for name in order:
                    if name == "squid":
                        results[name].append(bare(npm, world.root_package))
                    elif name == "headless":
                        results[name].append(headless(npm, world.root_package, home))
                    elif name == "dashboard":
                        results[name].append(dashboard(npm, world.root_package, home, 0))
                    else:
                        results[name].append(dashboard(npm, world.root_package, home, args.key_every))
                    print(f"  round {i + 1} {name:<14} {results[name][-1]['seconds']:6.2f} s", flush=True)
        finally:
            tmux("kill-server")
            shutil.rmtree(world.tmp / "npm", ignore_errors=True)  # a thousand packages' node_modules and cache
    load_after = os.getloadavg()

    def med(name: str, key: str = "seconds") -> float:
        return median([r[key] for r in results[name]])

    def each(name: str, key: str = "seconds") -> str:
        return ", ".join(f"{r[key]:.2f}" for r in results[name])

    latencies = [ms for r in results["dashboard+keys"] for ms in r["latencies"]]
    missed = sum(r["missed"] for r in results["dashboard+keys"])
    print(f"npm install of {world.package_count} packages over HTTPS through Squid, fresh cache, median of {args.runs} interleaved rounds")
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} cores)")
    print(f"  bare npm via Squid             {med('squid'):6.2f} s   ({each('squid')})")
    print(f"  npm-inspect run                {med('headless'):6.2f} s   ({each('headless')})   to its exit")
    for name in ("dashboard", "dashboard+keys"):
        print(f"  npm-inspect {name:<18} {med(name):6.2f} s   ({each(name)})   to [exit 0] on screen;"
              f" {med(name, 'to_quit'):.2f} s to the process exit after q")
    print(f"  ratio dashboard / headless      : {med('dashboard') / med('headless'):.3f}   (target: close to 1)")
    print(f"  ratio dashboard+keys / headless : {med('dashboard+keys') / med('headless'):.3f}")
    print(f"  ratio headless / bare npm       : {med('headless') / med('squid'):.3f}")
    for name in ("headless", "dashboard", "dashboard+keys"):
        peak = max(r["peak_kb"] for r in results[name]) / 1024
        print(f"  npm-inspect {name:<14} peak RSS {peak:5.0f} MB, CPU {med(name, 'cpu'):5.1f} s per install (its own process, npm not counted)")
    print(f"  table rows after the install (last round): {results['dashboard'][-1]['rows']}")
    p50 = statistics.median(latencies) if latencies else float("nan")
    print(f"  key → frame while installing (real terminal): p50 {p50:.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms,"
          f" max {max(latencies, default=float('nan')):.1f} ms over {len(latencies)} keys, {missed} missed (> {KEY_TIMEOUT:g} s)"
          f"   (target p99 < 100 ms)")


if __name__ == "__main__":
    main()

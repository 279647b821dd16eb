"""How long until the live dashboard shows something? ``npm-inspect -- npm view …`` in a real terminal, in the lab.

    .venv/bin/python bench/dashboard_startup.py [--runs 5]

Starts ``npm-inspect -- npm view lab-hello version`` (the live dashboard) in
tmux against the lab (npm → Squid → Verdaccio over HTTPS) and polls the
screen: the first frame is the status bar appearing (the proxy may still be
starting); then the proxy listening (its address in the status bar) and npm's
exit status. Target: first frame ≤ 1 s. Then the same for the demo
(``npm-inspect demo proxy-auth``: first frame, and the finding on screen).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
import uuid

from _lab import lab, median

from tests.lab.npm import NpmEnv
from tests.lab.packages import Package

LISTENING = re.compile(r"listening\s+(?:\S+@)?127\.0\.0\.1:\d+")


def screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", session], capture_output=True, text=True).stdout


def watch(command: str, cwd: str, marks: dict[str, object], timeout: float = 60) -> dict[str, float]:
    """Seconds from start until each mark (a substring, or a regex) is on screen; quits with q at the end."""
    session = f"bench-{uuid.uuid4().hex[:6]}"
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", "-c", cwd, command], check=True)
    seen: dict[str, float] = {}
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline and len(seen) < len(marks):
            text = screen(session)
            now = time.perf_counter() - start
            for name, mark in marks.items():
                if name not in seen and (mark.search(text) if isinstance(mark, re.Pattern) else mark in text):
                    seen[name] = now
            time.sleep(0.01)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"])
        stop = time.perf_counter() + 10
        while time.perf_counter() < stop and subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0:
            time.sleep(0.05)  # the dashboard stops its proxy and npm, then the session ends with it
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return {name: seen.get(name, float("nan")) for name in marks}


def report(title: str, results: list[dict[str, float]], targets: dict[str, str]) -> None:
    print(title)
    for name in results[0]:
        values = [r[name] for r in results]
        print(f"  start → {name:<22}: median {median(values):5.2f} s  ({', '.join(f'{v:.2f}' for v in values)})  {targets.get(name, '')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-demo", action="store_true", help="only the live dashboard")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with lab(1) as world:
        world.verdaccio.publish(Package("lab-hello", "1.0.0"))
        registry = world.verdaccio.url("https")
        npm = NpmEnv(world.tmp / "npm", [f"registry={registry}", f"cafile={world.ca.cert}", f"https-proxy={world.squid.url}"])
        env = npm.env(NPM_INSPECT_HOME=str(world.tmp / "home"), TERM="xterm-256color")
        env.pop("NO_COLOR", None)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
        argv = [sys.executable, "-m", "inspector", "--", "npm", "view", "lab-hello", "version"]
        command = f"env -i {exports} {' '.join(shlex.quote(a) for a in argv)}"
        marks = {"first frame": "listening", "proxy listening": LISTENING, "npm exit 0": "exit 0"}
        watch(command, str(npm.project), marks)  # warm the OS caches and npm-inspect's CA once
        live = [watch(command, str(npm.project), marks) for _ in range(args.runs)]
    report(f"npm-inspect -- npm view lab-hello version (live dashboard), {args.runs} runs in tmux (140x40):", live, {"first frame": "target ≤ 1 s"})
    if not args.no_demo:
        demo = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "inspector", "demo", "proxy-auth"))
        runs = [watch(demo, os.getcwd(), {"first frame": "listening", "finding on screen": "proxy-auth-required"}) for _ in range(args.runs)]
        report(f"npm-inspect demo proxy-auth, {args.runs} runs in tmux (140x40):", runs, {"first frame": "target ≤ 1 s"})
    print(f"load average after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

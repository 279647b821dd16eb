"""How long until the demo shows something? Startup to first frame of ``npm-inspect demo``, in a real terminal.

    .venv/bin/python bench/demo_startup.py [--runs 3]

Starts ``npm-inspect demo proxy-auth`` in tmux and polls the screen: the first
frame is the status bar appearing; then the time until npm has failed and the
finding explains it. Target: first frame under 3 s.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
import uuid


def screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def once() -> tuple[float, float]:
    session = f"bench-{uuid.uuid4().hex[:6]}"
    command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "inspector", "demo", "proxy-auth"))
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", command], check=True)
    first = finding = float("nan")
    try:
        deadline = start + 60
        while time.perf_counter() < deadline:
            text = screen(session)
            now = time.perf_counter() - start
            if first != first and "listening" in text:
                first = now
            if "proxy-auth-required" in text:
                finding = now
                break
            time.sleep(0.02)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"])
        time.sleep(1.5)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return first, finding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [once() for _ in range(args.runs)]
    firsts = [r[0] for r in results]
    findings = [r[1] for r in results]
    print(f"npm-inspect demo proxy-auth, {args.runs} runs in tmux (140x40):")
    print(f"  start → first frame         : median {statistics.median(firsts):.2f} s  ({', '.join(f'{v:.2f}' for v in firsts)})  target < 3 s")
    print(f"  start → finding on screen   : median {statistics.median(findings):.2f} s  ({', '.join(f'{v:.2f}' for v in findings)})")


if __name__ == "__main__":
    main()

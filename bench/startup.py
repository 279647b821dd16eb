"""What does ``npm-inspect run`` add to a one-request npm command? Side by side in one run, with a phase breakdown.

    .venv/bin/python bench/startup.py [--runs 7]

Times ``npm-inspect run --report-file /dev/null -- npm view lab-hello version``
against the same ``npm view`` straight through Squid (lab: npm → Squid →
Verdaccio over HTTPS), in interleaved pairs so that machine noise hits both
alike. Prints the medians, their ratio and the seconds npm-inspect adds
(target: ≤ 0.5 s), then where npm-inspect's time goes: each run writes its
phase marks (``NPM_INSPECT_TIMINGS``, see :mod:`inspector.timings`) and the
bench prints the median length of each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _lab import lab, median

from tests.lab.npm import NpmEnv
from tests.lab.packages import Package

PHASES = {
    "cli": "python start-up, the CLI and its arguments",
    "imports": "imports of the run path",
    "npm-config": "reading npm's config (npm config list)",
    "ca-bundle": "npm-inspect's CA and the CA bundles",
    "proxy-start": "the proxy starting (mitmproxy)",
    "npm": "npm itself, through the proxy",
    "diagnosis": "the diagnosis",
    "shutdown": "stopping the proxy, closing the journal",
    "report": "rendering and writing the report",
    "exit": "the process exiting",
}


def timed(argv: list[str], env: dict[str, str], cwd) -> tuple[float, float]:
    """(seconds, monotonic start) of one command, which must succeed."""
    start_mono = time.monotonic()
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or "1.0.0" not in result.stdout + result.stderr:
        raise SystemExit(f"{argv[:3]}… failed ({result.returncode}):\n{result.stdout[-1500:]}\n{result.stderr[-1500:]}")
    return elapsed, start_mono


def phases(start: float, end: float, path: str) -> dict[str, float]:
    """Each phase's length from one run's marks (a phase missing from the marks counts in the next one)."""
    with open(path, encoding="utf-8") as f:
        marks = json.load(f)["marks"]
    result: dict[str, float] = {}
    previous = start
    for name, t in marks:
        result[name] = result.get(name, 0.0) + t - previous
        previous = t
    result["exit"] = end - previous
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with lab(1) as world:
        world.verdaccio.publish(Package("lab-hello", "1.0.0"))
        home = world.tmp / "home"
        marks_file = str(world.tmp / "timings.json")
        registry = world.verdaccio.url("https")
        npm = NpmEnv(world.tmp / "npm", [f"registry={registry}", f"cafile={world.ca.cert}", f"https-proxy={world.squid.url}"])
        bare = (["npm", "view", "lab-hello", "version"], npm.env())
        inspect = (
            [sys.executable, "-m", "inspector", "run", "--report-file", os.devnull, "--", "npm", "view", "lab-hello", "version"],
            npm.env(NPM_INSPECT_HOME=str(home), NPM_INSPECT_TIMINGS=marks_file),
        )
        for argv, env in (bare, inspect):  # warm Verdaccio, the OS caches and npm-inspect's CA once
            timed(argv, env, npm.project)
        times: dict[str, list[float]] = {"npm": [], "npm-inspect run": []}
        breakdown: dict[str, list[float]] = {name: [] for name in PHASES}
        for i in range(args.runs):
            for name in (["npm", "npm-inspect run"] if i % 2 == 0 else ["npm-inspect run", "npm"]):
                argv, env = bare if name == "npm" else inspect
                elapsed, start = timed(argv, env, npm.project)
                times[name].append(elapsed)
                if name != "npm":
                    for phase, seconds in phases(start, start + elapsed, marks_file).items():
                        breakdown.setdefault(phase, []).append(seconds)

    print(f"npm view lab-hello version (npm → Squid → Verdaccio, HTTPS), median of {args.runs} interleaved pairs:")
    for name, values in times.items():
        print(f"  {name:<16} {median(values):6.2f} s   ({', '.join(f'{v:.2f}' for v in values)})")
    bare_s, inspect_s = median(times["npm"]), median(times["npm-inspect run"])
    print(f"ratio npm-inspect run / npm : {inspect_s / bare_s:.2f}")
    print(f"added by npm-inspect run    : {inspect_s - bare_s:+.2f} s  (target ≤ 0.5 s)")
    print("where npm-inspect run's time goes (median of each phase):")
    for phase, values in breakdown.items():
        if values:
            print(f"  {phase:<12} {median(values):6.3f} s   {PHASES.get(phase, '')}")
    print(f"  (npm itself, bare, for comparison: {bare_s:.3f} s)")
    print(f"load average after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

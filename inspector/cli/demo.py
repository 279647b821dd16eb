"""``npm-inspect demo [SCENARIO]``: a corporate network on loopback, the real npm in it, the dashboard on top.

Headless (``--report``) it prints each scenario's report, and with
``--apply-fix`` applies the top finding's fix to the demo's own npm config and
runs npm again. Without npm on PATH it says so and replays a recorded session.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError


def cmd_demo(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..demo.runs import npm_available
    from ..lab.scenarios import BY_NAME, SCENARIOS

    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:<15} {s.title}")
        return 0
    if args.scenario is not None and args.scenario not in BY_NAME:
        raise UsageError(f"unknown scenario {args.scenario!r}: choose one of {', '.join(BY_NAME)} (npm-inspect demo --list)")
    chosen = [BY_NAME[args.scenario]] if args.scenario else list(SCENARIOS)
    if args.apply_fix and not args.report:
        raise UsageError("--apply-fix is the headless fix: add --report json (in the dashboard, press x)")
    if args.replay or not npm_available():
        if not args.replay:
            sys.stderr.write(f"npm-inspect: npm is not installed, so the demo replays a recorded session of {chosen[0].name}\n")
        return _replay(args, chosen)
    if args.report:
        return _headless(args, chosen)
    return _interactive(chosen)


def _headless(args: argparse.Namespace, scenarios) -> int:
    from ..demo.runs import run_headless
    from ..lab.world import DemoLab
    from ..report import render

    lab = DemoLab()
    results = []
    try:
        for scenario in scenarios:
            results.append(run_headless(lab, scenario, apply=args.apply_fix))
    finally:
        lab.stop()
    if args.report == "json":
        data = [r.to_dict() for r in results]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        for r in results:
            print(f"== {r.scenario.name}: {r.scenario.title}")
            print(render(args.report, r.info, r.exchanges, r.findings))
            if r.fix is not None:
                print(f"fix: {r.fix.get('rule')} → npm exit {r.fix['exit']} ({'FIXED' if r.fix['passed'] else 'still failing'})")
                for command in r.fix.get("applied") or ():
                    print(f"  applied: {command}")
    if args.apply_fix:
        return 0 if all(r.fix and r.fix["passed"] for r in results) else 1
    return 0


def _interactive(scenarios) -> int:
    """One dashboard for the whole demo: scenarios switch in place; quitting exits 0."""
    import shutil

    from ..demo.app import DemoApp, start_scenario
    from ..lab.world import DemoLab
    from .dashboard import _need_terminal

    _need_terminal("use npm-inspect demo SCENARIO --report json for a headless run")
    lab = DemoLab()
    app = world = session = None
    try:
        lab.start()
        world, session = start_scenario(lab, scenarios[0].name)
        app = DemoApp(lab, world, session)
        app.run()
    finally:
        if app is not None:  # the scenario that was open when the dashboard closed
            world, session = app.world, app.session
        if session is not None:
            session.stop()
        if world is not None:
            world.stop()
        lab.stop()
        shutil.rmtree(lab.root, ignore_errors=True)
    return 0


def _replay(args: argparse.Namespace, scenarios) -> int:
    from ..demo.runs import recording
    from ..sources import load

    path = recording(scenarios[0].name)
    session = load(path)
    if args.report:
        from ..diagnoser import diagnose_saved
        from ..report import render

        exchanges = session.store.exchanges()
        sys.stdout.write(render(args.report, session.info, exchanges, diagnose_saved(exchanges, session.info, session.config)))
        return 0
    from ..tui.app import InspectorApp
    from .dashboard import _need_terminal

    _need_terminal("add --report json to print the recorded report")
    InspectorApp(session.store, info=session.info, snapshot=session.config, source=f"replay {scenarios[0].name}").run()
    return 0

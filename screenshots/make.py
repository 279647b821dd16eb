"""Regenerate the README's screenshots from scripted demo sessions (real npm, real proxies on loopback).

    .venv/bin/python screenshots/make.py

Writes SVG (Textual's own export) and, when ``rsvg-convert`` is installed
(Debian: librsvg2-bin), PNG next to it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("NPM_INSPECT_HOME", tempfile.mkdtemp(prefix="npm-inspect-shots-"))
os.environ.setdefault("TZ", "UTC")

from inspector.demo.app import DemoApp, start_scenario  # noqa: E402
from inspector.lab.world import DemoLab  # noqa: E402

SIZE = (120, 36)


async def wait(pilot, condition, seconds: float = 60.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise RuntimeError("the scripted session did not reach the expected state")


async def scene(lab: DemoLab, name: str, script) -> None:
    world, session = start_scenario(lab, name)
    app = DemoApp(lab, world, session)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait(pilot, lambda: session.npm_state.startswith("exit") and (app.findings or name == "healthy"))
            await pilot.pause(1.2)
            await script(app, pilot)
    finally:
        app.session.stop()
        app.world.stop()


def save(app, stem: str) -> None:
    svg = HERE / f"{stem}.svg"
    app.save_screenshot(str(svg))
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", str(HERE / f"{stem}.png"), str(svg)], check=True)
    print(f"wrote {svg.name}")


async def main() -> None:
    lab = DemoLab().start()
    try:

        async def failing_407(app, pilot):
            save(app, "demo-407")
            await pilot.press("x")
            await wait(pilot, lambda: app.fixed is not None)
            await pilot.pause(1.2)
            save(app, "demo-407-fixed")

        async def findings(app, pilot):
            await pilot.press("f")
            await pilot.pause(0.3)
            save(app, "findings-connect-denied")

        async def waterfall(app, pilot):
            app.table.select_id(next(e.id for e in app.store.exchanges() if e.kind == "http" and e.path == "/demo-hello"))
            await pilot.press("enter")
            await pilot.pause(0.3)
            save(app, "detail-waterfall")

        await scene(lab, "proxy-auth", failing_407)
        await scene(lab, "connect-denied", findings)
        await scene(lab, "healthy", waterfall)
    finally:
        lab.stop()


if __name__ == "__main__":
    asyncio.run(main())

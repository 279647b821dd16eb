"""The demo in the dashboard: npm fails, the finding explains it, x applies the fix, npm succeeds."""

from __future__ import annotations

import pytest

from inspector.demo.app import DemoApp, ScenarioMenu, start_scenario
from inspector.lab.world import DemoLab
from inspector.tui.screens import HelpScreen

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_lab():
    lab = DemoLab().start()
    yield lab
    lab.stop()


async def wait(pilot, condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not met in time")


async def test_x_applies_the_fix_and_the_scenario_turns_green_then_switches_in_place(demo_lab):
    world, live = start_scenario(demo_lab, "proxy-auth")
    store = live.store
    app = DemoApp(demo_lab, world, live)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait(pilot, lambda: live.npm_state == "exit 1" and app.findings)
            assert app.findings[0].rule == "proxy-auth-required"
            # the demo's own keys are in its help and its palette
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen) and ("This demo", DemoApp.DEMO_KEYS) in app.screen.extra
            await pilot.press("escape")
            assert {"Apply the fix", "Scenarios", "Next scenario"} <= {c.title for c in app.get_system_commands(app.screen)}
            await pilot.press("x")
            await wait(pilot, lambda: app.fixed is not None, 60)
            assert app.fixed is True and live.info.npm_exit == 0
            # the second run went through the same inspector and its findings are gone
            assert [r.exit_code for r in live.runs] == [1, 0] and live.runs[1].number == 2
            await wait(pilot, lambda: any(e.run == 2 for e in store.exchanges()) and app.findings == [])
            # the fix went into the demo's own npm config, the password percent-encoded as the finding says
            assert "https-proxy=http://demo-user:p%40ss%3Aw0rd%23demo@127.0.0.1:" in world.userconfig.read_text()
            # the second run's diagnosis read the changed config, not the snapshot from before the fix
            assert "demo-user" in (live.snapshot.get("https-proxy") or "")
            # scenarios switch in place: the same app, a new world and session
            await pilot.press("s")
            assert isinstance(app.screen, ScenarioMenu)
            await pilot.press("down", "enter")
            await wait(pilot, lambda: app.scenario.name == "connect-denied" and app.session is not live, 60)
            await wait(pilot, lambda: app.session.npm_state.startswith("exit") and app.findings, 60)
            assert app.findings[0].rule == "proxy-connect-denied"
            assert all(e.run == 1 for e in store.exchanges())
            await pilot.press("q")
        assert app.return_code == 0
    finally:
        app.session.stop()
        app.world.stop()


async def test_the_demo_starts_npm_once(demo_lab, monkeypatch):
    """Textual calls every class's on_mount: the demo's must not run the dashboard's a second time (which started
    npm twice, and in a real terminal the second start crashed the demo with "npm is still running")."""
    world, live = start_scenario(demo_lab, "proxy-auth")
    app = DemoApp(demo_lab, world, live)
    starts = []
    original = DemoApp._run_npm

    def counted(self, *args, **kwargs):
        starts.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DemoApp, "_run_npm", counted)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait(pilot, lambda: live.npm_state == "exit 1" and app.findings)
            assert len(starts) == 1 and [r.number for r in live.runs] == [1]
            await pilot.press("q")
    finally:
        live.stop()
        world.stop()

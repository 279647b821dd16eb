"""The demo in the dashboard: npm fails, the finding explains it, x applies the fix, npm succeeds."""

from __future__ import annotations

import pytest

from inspector.lab.scenarios import BY_NAME
from inspector.lab.world import DemoLab
from inspector.live import LiveSession
from inspector.runner import RunRequest
from inspector.session import SessionStore
from inspector.tui.demo_app import DemoApp, ScenarioMenu
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


async def test_x_applies_the_fix_and_the_scenario_turns_green(demo_lab):
    world = demo_lab.world(BY_NAME["proxy-auth"]).start()
    store = SessionStore()
    live = LiveSession(RunRequest(argv=world.argv, cwd=str(world.project), env=world.npm_env()), store)
    live.start()
    app = DemoApp(world, live, (1, 7))
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
            assert app.fixed is True and app.live.info.npm_exit == 0
            await wait(pilot, lambda: len(store) >= 4)
            assert app.findings == []
            # the fix went into the demo's own npm config, the password percent-encoded as the finding says
            assert "https-proxy=http://demo-user:p%40ss%3Aw0rd%23demo@127.0.0.1:" in world.userconfig.read_text()
            await pilot.press("s")
            assert isinstance(app.screen, ScenarioMenu)
            await pilot.press("down", "enter")
            await pilot.pause()
            await wait(pilot, lambda: app.next_scenario is not None)
        assert app.next_scenario == "connect-denied"
    finally:
        if app.live is not None:
            app.live.stop()
        world.stop()

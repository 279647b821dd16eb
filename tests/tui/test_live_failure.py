"""A failing npm in the live dashboard always leaves a finding on screen, even with nothing on the wire."""

from __future__ import annotations

import pytest

from inspector.lifecycle import SessionLifecycle
from inspector.runner import RunRequest
from inspector.session import SessionStore
from inspector.tui.app import InspectorApp

pytestmark = pytest.mark.e2e


async def test_npm_refusing_its_config_shows_npm_config_invalid_in_the_dashboard(npm_env):
    npm_env.add_userconfig("registry=https://registry.lab.test:4873/", "_auth=Ym9iOnNlY3JldA==")
    live = SessionLifecycle(RunRequest(argv=["npm", "view", "lab-hello", "version"], cwd=str(npm_env.project), env=npm_env.env()), SessionStore())
    live.start()
    app = InspectorApp(live.store, session=live)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(400):
                if app.findings:
                    break
                await pilot.pause(0.05)
            assert live.info.npm_exit == 1 and len(live.store) == 0
            assert [f.rule for f in app.findings] == ["npm-config-invalid"]
            assert app.info.npm_outcome["code"] == "ERR_INVALID_AUTH"
            assert "Ym9iOnNlY3JldA" not in repr(app.findings) + repr(app.info.npm_outcome)  # npm's words are redacted
    finally:
        live.stop()

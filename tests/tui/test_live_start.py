"""The live dashboard draws before its session has started: npm's config and the proxy come after the first frame."""

from __future__ import annotations

import threading

from inspector.errors import PortInUseError
from inspector.lifecycle import SessionLifecycle
from inspector.runner import RunRequest
from inspector.session import SessionStore
from inspector.tui.app import InspectorApp
from inspector.tui.widgets.panels import StatusBar


async def test_the_first_frame_comes_before_the_session_starts_and_a_start_error_ends_the_app(tmp_path):
    session = SessionLifecycle(RunRequest(argv=["npm", "install", "lab-hello"], cwd=str(tmp_path), env={}), SessionStore())
    asked, release = threading.Event(), threading.Event()

    def start():
        asked.set()
        release.wait(30)
        raise PortInUseError("port 4873 on 127.0.0.1 is already in use: pick another with --port")

    app = InspectorApp(session.store, session=session, start_session=start)
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(100):
            if asked.is_set():
                break
            await pilot.pause(0.05)
        # the start is under way on another thread, and the dashboard is already on screen, not waiting for it
        assert asked.is_set() and app.is_running and not app.session_ready
        assert "listening" in str(app.query_one(StatusBar).render())
        assert not app.check_action("rerun", ())  # no npm run before the proxy listens
        release.set()
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert isinstance(app.start_error, PortInUseError) and app.return_value == 2

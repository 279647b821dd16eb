"""q in a live dashboard stops npm and closes the proxy."""

from __future__ import annotations

import json
import socket

import pytest

from inspector.lifecycle import SessionLifecycle
from inspector.runner import RunRequest
from inspector.session import SessionStore
from inspector.tui.app import InspectorApp

pytestmark = pytest.mark.e2e


async def test_quit_stops_a_running_npm_and_the_proxy(tmp_path, npm_env):
    (npm_env.project / "package.json").write_text(
        json.dumps({"name": "lab-app", "version": "1.0.0", "private": True, "scripts": {"wait": "node -e \"setTimeout(() => {}, 60000)\""}})
    )
    live = SessionLifecycle(RunRequest(argv=["npm", "run", "wait"], cwd=str(npm_env.project), env=npm_env.env()), SessionStore())
    live.start()
    port = live.proxy.port
    app = InspectorApp(live.store, session=live)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(200):
                if live.npm_process is not None and live.npm_state == "running":
                    break
                await pilot.pause(0.05)
            process = live.npm_process
            assert process is not None and process.returncode is None
            await pilot.press("q")
            await pilot.pause(0.5)
        assert process.returncode is not None
        assert live.proxy is None
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        live.stop()

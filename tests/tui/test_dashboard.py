"""The dashboard, driven with Textual's Pilot: what a user does, and what they see."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inspector.records import ErrorInfo, Hop, TlsInfo
from inspector.session import SessionInfo, SessionStore
from inspector.tui.app import InspectorApp
from inspector.tui.screens import ConfirmScreen, HelpScreen
from inspector.tui.widgets.exchange_table import ExchangeTable
from inspector.tui.widgets.panels import DetailPane, StatusBar

from .conftest import proxy_407_session, record


def app_for(session, **kwargs) -> InspectorApp:
    store, info = session
    return InspectorApp(store, info=info, source="open", **kwargs)


def row_texts(app: InspectorApp) -> list[str]:
    table = app.query_one(ExchangeTable)
    return [table.render_line(y).text for y in range(min(len(table.rows), table.size.height))]


async def test_a_407_is_marked_as_the_proxys_without_a_key_press(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)):
        first = row_texts(app)[0]
        assert "◆ proxy-auth" in first and "407" in first and "proxy" in first
        assert app.findings[0].rule == "proxy-auth-required"


async def test_the_status_bar_masks_the_upstream_password(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)):
        text = str(app.query_one(StatusBar).render())
        assert "http://carol:***@10.0.0.8:3128" in text and "hunter2" not in text
        assert "proxy 3 (2 failed)" in text


async def test_the_filter_narrows_rows_and_escape_clears_it(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("slash", *"hop:proxy status:407")
        await pilot.pause()
        assert len(app.query_one(ExchangeTable).rows) == 2
        assert "2 / 7 rows" in str(app.query_one("#row-count").render())
        await pilot.press("escape")
        assert len(app.query_one(ExchangeTable).rows) == 7


async def test_free_text_and_negation(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("slash", *"lodash -status:200")
        await pilot.pause()
        assert app.query_one(ExchangeTable).rows == []
        await pilot.press("escape", "slash", *"tgz")
        await pilot.pause()
        assert len(app.query_one(ExchangeTable).rows) == 1


async def test_a_bad_filter_is_flagged_not_fatal(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("slash", *"status:abc")
        await pilot.pause()
        assert app.query_one("#filter").has_class("-invalid")
        assert "4xx" in str(app.query_one("#filter").tooltip)
        await pilot.press(*["backspace"] * 3, *"4xx")
        await pilot.pause()
        assert not app.query_one("#filter").has_class("-invalid")
        assert len(app.query_one(ExchangeTable).rows) == 3


async def test_copying_the_fix_command(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f", "c")
        assert app.last_copied == "npm config set 'proxy=http://<user>:<password>@10.0.0.8:3128' --location=user"
        assert app.clipboard == app.last_copied


async def test_enter_on_a_finding_jumps_to_its_evidence(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f", "enter")
        await pilot.pause()
        table = app.query_one(ExchangeTable)
        assert app.query_one("#filter").value == "id:ex-1,ex-2"
        assert table.current is not None and table.current.id == "ex-1" and table.has_focus


async def test_details_show_evidence_waterfall_and_masked_headers(session):
    app = app_for(session)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.query_one(ExchangeTable)
        table.select_id("ex-4")
        await pilot.press("enter")
        await pilot.pause()
        text = _static_text(app)
        assert "answer relayed from the registry" in text
        for phase in ("proxy connect", "CONNECT", "TLS", "TTFB", "transfer"):
            assert phase in text
        assert "Bearer [redacted:0badf00d]" in text
        assert '"latest": "4.17.21"' in text  # JSON pretty-printed


async def test_a_tarball_body_is_summarised(session):
    app = app_for(session)
    async with app.run_test(size=(160, 50)) as pilot:
        app.query_one(ExchangeTable).select_id("ex-5")
        await pilot.press("enter")
        await pilot.pause()
        assert "tarball (application/octet-stream), 310.5 KB" in _static_text(app)


def _static_text(app: InspectorApp) -> str:
    from rich.console import Console

    console = Console(width=150, record=True, color_system=None)
    console.print(app.query_one(DetailPane).content)
    return console.export_text()


async def test_reveal_asks_first_and_no_keeps_secrets_hidden(session):
    app = app_for(session, reveal_secret=lambda fp: "npm_REALTOKEN" if fp == "0badf00d" else None)
    async with app.run_test(size=(160, 50)) as pilot:
        app.query_one(ExchangeTable).select_id("ex-4")
        await pilot.press("enter", "r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not app.revealed and "npm_REALTOKEN" not in _static_text(app)
        await pilot.press("r", "y")
        await pilot.pause()
        assert app.revealed and "Bearer npm_REALTOKEN" in _static_text(app)


async def test_a_saved_session_has_nothing_to_reveal(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("r")
        assert not isinstance(app.screen, ConfirmScreen) and not app.revealed


async def test_pause_freezes_the_view_but_not_the_capture(session):
    store, info = session
    app = InspectorApp(store, info=info, source="live")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("p")
        store.add(record(50, path="/later"))
        await pilot.pause(0.5)
        assert len(app.query_one(ExchangeTable).rows) == 7 and len(store) == 8
        assert "PAUSED" in str(app.query_one(StatusBar).render())
        await pilot.press("p")
        await pilot.pause(0.3)
        assert len(app.query_one(ExchangeTable).rows) == 8


async def test_the_table_follows_the_tail_unless_the_user_scrolls_up():
    store, info = proxy_407_session()
    app = InspectorApp(store, info=info, source="live")
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(ExchangeTable)
        for n in range(100, 160):
            store.add(record(n))
        await pilot.pause(0.5)
        assert table.cursor == len(table.rows) - 1
        await pilot.press("up", "up")
        for n in range(200, 210):
            store.add(record(n))
        await pilot.pause(0.5)
        assert table.cursor == len(table.rows) - 13 and not table.following
        await pilot.press("end")
        assert table.following


async def test_export_writes_a_redacted_har(session, tmp_path):
    app = app_for(session, export_dir=tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("e")
    text = app.last_export.read_text()
    assert '"version": "1.2"' in text and "hunter2" not in text


async def test_help_and_palette_list_every_action(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Filter exchanges", "Show findings", "Copy command", "Reveal secrets", "Export HAR", "Pause / resume", "Quit npm-inspect"} <= titles


async def test_outcomes_read_without_colour(session, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(session)
    async with app.run_test(size=(120, 36)):
        rows = row_texts(app)
        assert app.no_color
        words = [r.split()[2] for r in rows]
        assert words == ["proxy-auth", "proxy-auth", "ok", "ok", "ok", "reg-auth", "tls"]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (200, 50)])
async def test_it_works_at_small_and_large_sizes_and_resizes(session, size):
    app = app_for(session)
    async with app.run_test(size=size) as pilot:
        assert app.screen.has_class("narrow") == (size[0] < 150)
        await pilot.resize_terminal(140 if size[0] > 140 else 160, 40)
        await pilot.pause()
        assert app.query_one(ExchangeTable).rows


async def test_quit_returns_npms_exit_status(session):
    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("q")
    assert app.return_value == 1


async def test_following_a_session_another_npm_inspect_writes(tmp_path):
    """open --follow: new rows and findings appear as the other npm-inspect writes them (no timing asserted)."""
    import time

    from inspector.journal import JournalFollower, JournalWriter
    from inspector.session import SessionInfo, SessionStore

    source = SessionStore()
    writer = JournalWriter(tmp_path / "live.jsonl", source, SessionInfo(npm_argv=["npm", "ci"]), None).start()
    mirror = SessionStore()
    follower = JournalFollower(tmp_path / "live.jsonl", mirror).start()
    app = InspectorApp(mirror, info=follower.parser.info, source="following", follower=follower)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            store, _ = proxy_407_session()
            started = time.monotonic()
            source.extend(store.exchanges())
            while (len(app.table.rows) < len(store) or not app.findings) and time.monotonic() - started < 20:
                await pilot.pause(0.05)
            assert len(app.table.rows) == len(store)
            assert app.findings[0].rule == "proxy-auth-required"
            assert "npm ci" in str(app.status_bar.render())
    finally:
        follower.stop()
        writer.close()



def _open_tunnel():
    return record(1, kind="connect", method="CONNECT", scheme="", path="", status=200, reason="Connection established",
                  hop=Hop.PROXY, state="open", content_type=None, body_preview=None, bytes_received=0)


def _failed_tls(tunnel):
    return replace(tunnel, hop=Hop.TLS, state="done", tls=TlsInfo(failed_by=Hop.CLIENT, error="unknown ca"),
                   error=ErrorInfo("tls", "npm rejected the inspector's certificate"))


@pytest.mark.parametrize("typed, rows_before, rows_after", [("hop:tls", 0, 1), ("hop:proxy", 1, 0)])
async def test_a_tunnel_replaced_after_it_fails_tls_is_re_filtered(typed, rows_before, rows_after):
    """A CONNECT is recorded when the proxy answers 200 and again when TLS fails: the filter sees the new record."""
    store = SessionStore()
    tunnel = _open_tunnel()
    store.add(tunnel)
    store.add(record(2))
    app = InspectorApp(store, info=SessionInfo(), source="live")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("slash", *typed)
        await pilot.pause(0.3)
        table = app.query_one(ExchangeTable)
        assert len(table.rows) == rows_before
        store.add(_failed_tls(tunnel))
        await pilot.pause(0.5)
        assert len(table.rows) == rows_after
        assert f"{rows_after} / 2 rows" in str(app.query_one("#row-count").render())
        if rows_after:
            assert table.current is not None and table.current.hop is Hop.TLS


def _two_runs() -> SessionStore:
    store, _ = proxy_407_session()
    store.add(record(20, kind="connect", method="CONNECT", scheme="", path="", status=200, hop=Hop.PROXY, run=2,
                     content_type=None, body_preview=None, bytes_received=0))
    store.add(record(21, run=2))
    return store


async def test_a_run_column_appears_only_when_the_session_has_a_second_run(session):
    store, info = session
    app = InspectorApp(store, info=info, source="live")
    async with app.run_test(size=(120, 36)) as pilot:
        header = app.query_one("#table-header")
        assert not header.render_line(0).text.startswith("run")
        store.add(record(20, run=2))
        await pilot.pause(0.5)
        assert header.render_line(0).text.split()[:2] == ["run", "time"]
        rows = row_texts(app)
        assert rows[0].split()[0] == "1" and rows[-1].split()[0] == "2"


async def test_the_filter_knows_run_numbers():
    app = InspectorApp(_two_runs(), info=SessionInfo(), source="open")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("slash", *"run:2")
        await pilot.pause()
        assert [e.id for e in app.view] == ["ex-20", "ex-21"]
        await pilot.press("escape", "slash", *"run:1 hop:proxy")
        await pilot.pause()
        assert len(app.view) == 3


def _key_displays(app, bindings) -> set[str]:
    """Every key of these bindings as the user sees it (``up,k`` → ``↑``, ``k``)."""
    from textual.binding import Binding

    spelled = {"esc": "escape", "⏎": "enter"}  # the help and the palette spell these out
    shown = set()
    for binding in bindings:
        if binding.key_display:
            shown.add(binding.key_display)
            continue
        for key in binding.key.split(","):
            display = app.get_key_display(Binding(key.strip(), ""))
            shown.add(spelled.get(display, display))
    return shown


async def test_every_key_is_in_the_help_with_its_text(session):
    from inspector.tui.screens import KEYS

    app = app_for(session)
    async with app.run_test(size=(120, 36)) as pilot:
        keys = _key_displays(app, [*InspectorApp.BINDINGS, *ExchangeTable.BINDINGS])
        listed = {part for key, text in KEYS if text.strip() for part in key.split()}
        listed |= {key for key, _ in KEYS}
        missing = {k for k in keys if k not in listed and k.lower() not in {p.lower() for p in listed}}
        assert not missing, f"keys without a help row: {missing}"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.keys == KEYS


async def test_the_palette_offers_every_action_key(session):
    """Every key of a saved session's dashboard; the live-only ones (R, x, w) are checked in test_fix_loop.py."""
    app = app_for(session)
    async with app.run_test(size=(120, 36)):
        helps = " ".join(c.help for c in app.get_system_commands(app.screen))
        for key in _key_displays(app, [b for b in InspectorApp.BINDINGS if b.action not in InspectorApp.LIVE_ACTIONS]):
            assert f"({key})" in helps, f"no palette command for {key}"
        assert not {"(R)", "(x)", "(w)"} & set(helps.split())  # nothing to run or write in a saved session


async def test_the_detail_follows_its_exchange_when_the_record_is_replaced():
    store = SessionStore()
    tunnel = _open_tunnel()
    store.add(tunnel)
    app = InspectorApp(store, info=SessionInfo(), source="live")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert "TLS error" not in _static_text(app)
        store.add(_failed_tls(tunnel))
        await pilot.pause(0.5)
        assert "TLS error" in _static_text(app) and "npm rejected the inspector's certificate" in _static_text(app)

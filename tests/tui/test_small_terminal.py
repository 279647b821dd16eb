"""80×24 works: the finding's explanation and commands are readable, the key bar fits, nothing covers the fix."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.widgets._toast import Toast

from inspector.records import Evidence, Hop
from inspector.tui.app import InspectorApp
from inspector.tui.screens import KEYS, HelpScreen, key_table
from inspector.tui.widgets.exchange_table import ExchangeTable
from inspector.tui.widgets.keybar import KeyBar, fit, key_cost
from inspector.tui.widgets.panels import DetailPane, NpmOutput, StatusBar

from .conftest import SQUID_407, proxy_407_session, record

SIZES = [(80, 24), (100, 30), (140, 40), (200, 50)]


def app_for(session=None, **kwargs) -> InspectorApp:
    store, info = session or proxy_407_session()
    return InspectorApp(store, info=info, source="open", **kwargs)


def text_of(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_findings_explanation_and_commands_are_on_screen(size):
    app = app_for()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen.region
        explanation = app.query_one("#finding-scroll").region
        commands = app.query_one("#command-list").region
        table = app.query_one(ExchangeTable).region
        assert screen.contains_region(commands) and screen.contains_region(explanation)
        assert commands.height >= 2, "both lines of the first fix command"
        assert explanation.height >= 3, "the rule, the title and the start of the explanation"
        assert table.height >= 4, "a few exchanges stay in sight"
        assert not commands.overlaps(app.query_one(KeyBar).region)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_notifications_never_cover_the_command_lines(size):
    app = app_for()
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.press("f", "c")
        app.notify("a second notification, a long one that wraps over several lines of a small terminal " * 2)
        await pilot.pause(0.3)
        toasts = list(app.screen.query(Toast))
        assert toasts
        commands = app.query_one("#command-list").region
        for toast in toasts:
            assert not toast.region.overlaps(commands), (toast.region, commands)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_key_bar_fits_the_width_and_always_offers_help(size):
    app = app_for()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        bar = app.query_one(KeyBar)
        assert "?" in bar.keys and "q" in bar.keys
        right = max(key.region.right for key in bar.children)
        assert right <= size[0]
        if size[0] >= 140:
            assert bar.keys == ["/", "f", "d", "o", "c", "e", "p", "?", "q", "esc"]


async def test_while_typing_a_filter_the_key_bar_says_how_to_clear_it():
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.pause()
        assert "esc" in app.query_one(KeyBar).keys


async def test_the_key_bar_follows_a_resize():
    app = app_for()
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        assert "e" in app.query_one(KeyBar).keys
        await pilot.resize_terminal(70, 24)
        await pilot.pause(0.2)
        keys = app.query_one(KeyBar).keys
        assert "e" not in keys and "?" in keys


def test_keys_are_kept_by_rank_and_shown_in_binding_order():
    items = [("filter", "/", "Filter"), ("export", "e", "Export HAR"), ("help", "?", "Help"), ("quit", "q", "Quit")]
    ranks = {"help": 0, "quit": 1, "filter": 2}
    width = key_cost("?", "Help", True) + key_cost("q", "Quit", True) + key_cost("/", "Filter", True)
    assert fit(items, ranks, width, compact=True) == ["filter", "help", "quit"]
    assert fit(items, ranks, width - 1, compact=True) == ["help", "quit"]


async def test_the_header_folds_on_a_small_terminal_and_h_unfolds_it():
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(StatusBar)
        await pilot.pause()
        assert bar.compact and bar.region.height == 2
        await pilot.press("h")
        await pilot.pause()
        assert not bar.compact and bar.region.height > 2
        assert "listening" in str(bar.render())
        await pilot.press("h")
        await pilot.pause()
        assert bar.region.height == 2


async def test_a_large_terminal_shows_the_whole_header():
    app = app_for()
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        assert not app.query_one(StatusBar).compact


async def test_long_evidence_lines_wrap_in_the_detail_at_80_columns():
    long_error = "ERR_ACCESS_DENIED/" + "x" * 120 + "/end-of-the-evidence"
    store, info = proxy_407_session()
    store.add(record(9, kind="connect", method="CONNECT", scheme="", path="", status=403, hop=Hop.PROXY,
                     evidence=Evidence(status_line="HTTP/1.1 403 Forbidden", squid_error=long_error,
                                       error_body="The proxy says: " + "denied by policy rule corp-7; " * 8 + "contact the service desk",
                                       reason=SQUID_407.reason)))
    app = InspectorApp(store, info=info, source="open")
    async with app.run_test(size=(80, 24)) as pilot:
        app.table.select_id("ex-9")
        await pilot.press("enter")
        await pilot.pause()
        pane = app.query_one(DetailPane)
        shown = text_of(pane.content, pane.scrollable_content_region.width)
        assert "…" not in shown
        joined = "".join(line.strip() for line in shown.splitlines())
        assert long_error in joined and "contact the service desk" in joined


async def test_npms_long_lines_wrap_in_its_pane():
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        output = app.query_one(NpmOutput)
        before = len(output.lines)
        output.write_line("npm error code E407 " + "npm error 407 Proxy Authentication Required - GET https://registry.npmjs.org/lodash " * 2)
        await pilot.pause(0.2)
        assert len(output.lines) - before >= 3


def test_every_help_row_has_text_at_80_columns():
    """The help's keys never wrap onto lines of their own: each printed line carries its explanation."""
    key_width = max(len(k) for k, _ in KEYS)
    lines = [line for line in text_of(key_table(KEYS), 74).splitlines() if line.strip()]
    assert len(lines) >= len(KEYS)
    for line in lines:
        assert line[key_width + 2 :].strip(), f"a help line without text: {line!r}"


async def test_the_help_scrolls_at_80x24():
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help")
        assert box.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y

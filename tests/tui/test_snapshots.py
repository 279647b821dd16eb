"""Snapshots of the main screens at 80×24 and 140×40 (pytest-textual-snapshot): update with --snapshot-update after checking.

Inputs start with a steady cursor (``no_cursor_blink`` in conftest), so nothing depends on timing.
"""

from __future__ import annotations

import pytest

from inspector.tui.app import InspectorApp

from .conftest import proxy_407_session

SIZES = [(80, 24), (140, 40)]
sizes = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")


def app() -> InspectorApp:
    store, info = proxy_407_session()
    return InspectorApp(store, info=info, source="open")


@sizes
def test_findings_for_a_407(snap_compare, size):
    assert snap_compare(app(), terminal_size=size)


@sizes
def test_detail_with_waterfall(snap_compare, size):
    async def select(pilot):
        pilot.app.table.select_id("ex-4")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=select)


@sizes
def test_filtered_to_the_proxy(snap_compare, size):
    async def narrow(pilot):
        await pilot.press("slash", *"hop:proxy")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=narrow)


@sizes
def test_help(snap_compare, size):
    assert snap_compare(app(), terminal_size=size, press=["question_mark"])


def test_the_header_unfolded_at_80x24(snap_compare):
    assert snap_compare(app(), terminal_size=(80, 24), press=["h"])

"""Snapshots of the main screens (pytest-textual-snapshot): update with --snapshot-update after checking."""

from __future__ import annotations

import pytest

from inspector.tui.app import InspectorApp

from .conftest import proxy_407_session

SIZES = [(100, 30), (80, 24)]


def app() -> InspectorApp:
    store, info = proxy_407_session()
    return InspectorApp(store, info=info, source="open")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_findings_for_a_407(snap_compare, size):
    assert snap_compare(app(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_with_waterfall(snap_compare, size):
    async def select(pilot):
        pilot.app.table.select_id("ex-4")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=select)


def test_filtered_to_the_proxy(snap_compare):
    async def narrow(pilot):
        pilot.app.filter_input.value = "hop:proxy"
        await pilot.pause()
        pilot.app.table.focus()
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(100, 30), run_before=narrow)


def test_help(snap_compare):
    assert snap_compare(app(), terminal_size=(100, 30), press=["question_mark"])

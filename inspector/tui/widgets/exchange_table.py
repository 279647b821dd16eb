"""The live exchanges table: a virtualised view over the session store.

Textual's DataTable measures every new row and rebuilds caches over all rows,
which stalls at tens of thousands of rows. This widget keeps only a list of
store positions that pass the filter and renders just the visible lines, with
fixed column widths, so 100,000 rows cost no more to draw than 30.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...filtering import Query
from ...outcome import outcome_of
from ...records import Exchange
from ...session import SessionStore
from ..guard import guarded


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    flex: int = 0
    align: str = "left"


COLUMNS = (
    Column("time", 8),
    Column("outcome", 12),
    Column("method", 7),
    Column("host", 12, flex=1),
    Column("path", 8, flex=2),
    Column("status", 6, align="right"),
    Column("hop", 9),
    Column("ms", 6, align="right"),
)


def column_widths(total: int) -> list[int]:
    """Fixed widths, with what is left shared by the flexible columns (host, path)."""
    gaps = len(COLUMNS) - 1
    fixed = sum(c.width for c in COLUMNS) + gaps
    spare = max(0, total - fixed)
    flex_total = sum(c.flex for c in COLUMNS) or 1
    widths = []
    for c in COLUMNS:
        widths.append(c.width + (spare * c.flex) // flex_total if c.flex else c.width)
    return widths


def _fit(text: str, width: int, align: str = "left") -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
    return text.rjust(width) if align == "right" else text.ljust(width)


def row_cells(e: Exchange) -> list[str]:
    outcome = outcome_of(e)
    total = e.timings.total
    return [
        time.strftime("%H:%M:%S", time.localtime(e.started)),
        f"{outcome.glyph} {outcome.word}",
        e.method,
        e.host if e.kind == "http" else f"{e.host}:{e.port}",
        e.path,
        str(e.status) if e.status is not None else (e.error.kind[:6] if e.error else "-"),
        e.hop.value if e.hop else "?",
        f"{total:.0f}" if total is not None else ("open" if e.state == "open" else "-"),
    ]


class ExchangeTable(ScrollView, can_focus=True):
    """One row per CONNECT or request; follows the tail unless the user moves up."""

    DEFAULT_CSS = """
    ExchangeTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last (follow)", show=False),
        Binding("enter", "select", "Details", show=False),
    ]

    cursor: reactive[int] = reactive(-1, repaint=False)
    following: reactive[bool] = reactive(True, repaint=False)

    class Highlighted(Message):
        """The cursor moved to another exchange."""

        def __init__(self, exchange: Exchange | None) -> None:
            super().__init__()
            self.exchange = exchange

    class Selected(Message):
        """Enter on an exchange: show its details."""

        def __init__(self, exchange: Exchange) -> None:
            super().__init__()
            self.exchange = exchange

    def __init__(self, store: SessionStore, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.rows: list[int] = []
        """Store positions that pass the filter, in arrival order."""
        self.query_filter: Query | None = None
        self._seen = 0
        self._widths = column_widths(80)
        self._cache: dict[int, tuple[int, list[Segment]]] = {}
        self._styles: dict[str, Style] = {}

    # -- data ------------------------------------------------------------------------

    def ingest(self) -> int:
        """Take records added to the store since the last call; returns how many rows were added."""
        total = len(self.store)
        added = 0
        query = self.query_filter
        for position in range(self._seen, total):
            if query is None or query(self.store[position]):
                self.rows.append(position)
                added += 1
        self._seen = total
        if added:
            self._update_size()
            if self.following:
                self.cursor = len(self.rows) - 1
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()
        return added

    def reset(self) -> None:
        """Start over after the store was cleared."""
        self.rows = []
        self._seen = 0
        self._cache.clear()
        self.following = True
        self.cursor = -1
        self._update_size()
        self.refresh()

    def apply_filter(self, query: Query | None) -> None:
        """Re-filter every record (the store, not the widget, holds them)."""
        current = self.current
        self.query_filter = query
        self.rows = [p for p in range(len(self.store)) if query is None or query(self.store[p])]
        self._seen = len(self.store)
        self._update_size()
        position = self.store.position(current.id) if current is not None else None
        if position is not None and position in self.rows:
            self.cursor = self.rows.index(position)
        else:
            self.cursor = len(self.rows) - 1 if self.following else min(max(self.cursor, 0), len(self.rows) - 1)
        self._scroll_to_cursor()
        self.refresh()

    @property
    def current(self) -> Exchange | None:
        if 0 <= self.cursor < len(self.rows):
            return self.store[self.rows[self.cursor]]
        return None

    def select_id(self, exchange_id: str) -> bool:
        position = self.store.position(exchange_id)
        if position is None or position not in self.rows:
            return False
        self.following = False
        self.cursor = self.rows.index(position)
        self._scroll_to_cursor()
        return True

    def _update_size(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))

    # -- rendering ------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._update_size()
        self.refresh()

    @property
    def widths(self) -> list[int]:
        """Column widths for the space rows really get (without the scrollbar)."""
        widths = column_widths(max(40, self.scrollable_content_region.width))
        if widths != self._widths:
            self._widths = widths
            self._cache.clear()
            if self.parent is not None:
                for header in self.parent.query(TableHeader):
                    header.refresh()
        return self._widths

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = Style.parse(name) if not self.app.no_color else Style()
        return style

    def _segments(self, position: int) -> list[Segment]:
        exchange = self.store[position]
        cached = self._cache.get(position)
        if cached is not None and cached[0] == id(exchange):
            return cached[1]
        outcome = outcome_of(exchange)
        row_style = self._style(outcome.style) if outcome.word not in ("ok", "open") else Style()
        cells = row_cells(exchange)
        segments: list[Segment] = []
        for i, (cell, column, width) in enumerate(zip(cells, COLUMNS, self._widths)):  # widths checked in render_line
            text = _fit(cell, width, column.align)
            style = row_style
            if column.title in ("outcome", "status", "hop") and outcome.word not in ("ok", "open"):
                style = row_style + Style(bold=True)
            elif outcome.word in ("ok", "open") and column.title in ("time", "ms"):
                style = self._style("dim")
            segments.append(Segment(text, style))
            if i < len(COLUMNS) - 1:
                segments.append(Segment(" ", Style()))
        if len(self._cache) > 2000:
            self._cache.clear()
        self._cache[position] = (id(exchange), segments)
        return segments

    @guarded(lambda self, error: Strip([Segment(f"(row not drawn: {error})", Style(color="red"))]))
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        self.widths  # recompute (and drop the cache) if the usable width changed
        segments = self._segments(self.rows[index])
        strip = Strip(segments)
        if index == self.cursor:
            highlight = self._style("reverse") if self.app.no_color else self._style("on #2b4a6b")
            if self.has_focus:
                highlight = highlight + Style(bold=True)
            strip = strip.apply_style(highlight)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    # -- cursor -------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def _scroll_to_cursor(self) -> None:
        if self.cursor < 0:
            return
        top = self.scroll_offset.y
        height = max(1, self.size.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def _move(self, delta: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
        self.following = self.cursor == len(self.rows) - 1
        self._scroll_to_cursor()

    def action_cursor(self, delta: int) -> None:
        self._move(delta)

    def action_page(self, direction: int) -> None:
        self._move(direction * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self._move(-len(self.rows))

    def action_last(self) -> None:
        self._move(len(self.rows))
        self.following = True

    def action_select(self) -> None:
        if self.current is not None:
            self.post_message(self.Selected(self.current))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.rows):
            self.cursor = index
            self.following = index == len(self.rows) - 1
            if event.chain >= 2:
                self.action_select()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.following = False


class TableHeader(ScrollView):
    """The column titles above :class:`ExchangeTable`, sized to match it."""

    DEFAULT_CSS = """
    TableHeader { height: 1; overflow: hidden hidden; }
    """

    def render_line(self, y: int) -> Strip:
        tables = self.parent.query(ExchangeTable) if self.parent is not None else []
        widths = tables[0].widths if tables else column_widths(max(40, self.size.width))
        text = " ".join(_fit(c.title, w, c.align) for c, w in zip(COLUMNS, widths))
        return Strip([Segment(text, Style(bold=True, underline=True))]).crop_extend(0, self.size.width, self.rich_style)

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()

"""The live exchanges table: renders an :class:`~inspector.view.ExchangeView`, and nothing more.

The view (plain Python, no Textual) owns the filter, the rows, the focus and
follow-the-tail; this widget draws the visible lines from it and turns keys
and clicks into view operations. Textual's DataTable measures every new row
and rebuilds caches over all rows, which stalls at tens of thousands of rows;
here only the visible lines are rendered, with fixed column widths and a
per-row cache, so 100,000 rows cost no more to draw than 30.
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
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...outcome import outcome_of
from ...records import Exchange
from ...view import ExchangeView, ViewChange
from ..guard import guarded


@dataclass(frozen=True)
class Column:
    title: str
    width: int
    flex: int = 0
    align: str = "left"


RUN = Column("run", 3, align="right")
"""Shown only when the session holds more than one npm run."""

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


def columns_for(runs: int) -> tuple[Column, ...]:
    """The table's columns: a narrow ``run`` column first once a second run exists."""
    return (RUN, *COLUMNS) if runs > 1 else COLUMNS


def column_widths(total: int, columns: tuple[Column, ...] = COLUMNS) -> list[int]:
    """Fixed widths, with what is left shared by the flexible columns (host, path)."""
    gaps = len(columns) - 1
    fixed = sum(c.width for c in columns) + gaps
    spare = max(0, total - fixed)
    flex_total = sum(c.flex for c in columns) or 1
    widths = []
    for c in columns:
        widths.append(c.width + (spare * c.flex) // flex_total if c.flex else c.width)
    return widths


def _fit(text: str, width: int, align: str = "left") -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
    return text.rjust(width) if align == "right" else text.ljust(width)


def row_cells(e: Exchange, columns: tuple[Column, ...] = COLUMNS) -> list[str]:
    outcome = outcome_of(e)
    total = e.timings.total
    cells = [
        time.strftime("%H:%M:%S", time.localtime(e.started)),
        f"{outcome.glyph} {outcome.word}",
        e.method,
        e.host if e.kind == "http" else f"{e.host}:{e.port}",
        e.path,
        str(e.status) if e.status is not None else (e.error.kind[:6] if e.error else "-"),
        e.hop.value if e.hop else "?",
        f"{total:.0f}" if total is not None else ("open" if e.state == "open" else "-"),
    ]
    return [str(e.run), *cells] if columns[0] is RUN else cells


class ExchangeTable(ScrollView, can_focus=True):
    """One row per CONNECT or request, drawn from an :class:`ExchangeView`; keys move the view's focus."""

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

    class Highlighted(Message):
        """The focus moved to another exchange (or its record was replaced)."""

        def __init__(self, exchange: Exchange | None) -> None:
            super().__init__()
            self.exchange = exchange

    class Selected(Message):
        """Enter on an exchange: show its details."""

        def __init__(self, exchange: Exchange) -> None:
            super().__init__()
            self.exchange = exchange

    def __init__(self, view: ExchangeView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self._columns = columns_for(view.runs)
        self._widths = column_widths(80, self._columns)
        self._cache: dict[int, tuple[int, list[Segment]]] = {}
        self._styles: dict[str, Style] = {}
        self._drawn_cursor = -1
        view.listen(self._view_changed)

    # -- the view's state, for the app and tests ---------------------------------------------

    @property
    def rows(self):
        """Store positions of the rows shown (the view's)."""
        return self.view.positions

    @property
    def cursor(self) -> int:
        return self.view.focus_index

    @property
    def following(self) -> bool:
        return self.view.following

    @property
    def current(self) -> Exchange | None:
        return self.view.focus

    def select_id(self, exchange_id: str) -> bool:
        return self.view.focus_on(exchange_id)

    # -- reacting to the view ------------------------------------------------------------------

    def _view_changed(self, change: ViewChange) -> None:
        if not self.is_mounted:
            return
        if change.rows_changed:
            self._update_size()
        cursor = self.view.focus_index
        if cursor != self._drawn_cursor or change.refreshed:
            self._drawn_cursor = cursor
            if self.view.following and change.added and not change.refreshed:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            else:
                self._scroll_to_cursor()
        if change.focus_moved:
            self.post_message(self.Highlighted(self.view.focus))
        self.refresh()

    def on_mount(self) -> None:
        self._update_size()
        self._drawn_cursor = self.view.focus_index
        self._scroll_to_cursor()

    def on_unmount(self) -> None:
        self.view.unlisten(self._view_changed)

    def _update_size(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.view))

    # -- rendering ------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._update_size()
        self._scroll_to_cursor()
        self.refresh()

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def widths(self) -> list[int]:
        """Column widths for the space rows really get (without the scrollbar)."""
        columns = columns_for(self.view.runs)
        widths = column_widths(max(40, self.scrollable_content_region.width), columns)
        if widths != self._widths or columns != self._columns:
            self._widths = widths
            self._columns = columns
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
        exchange = self.view.store[position]
        cached = self._cache.get(position)
        if cached is not None and cached[0] == id(exchange):
            return cached[1]
        outcome = outcome_of(exchange)
        row_style = self._style(outcome.style) if outcome.word not in ("ok", "open") else Style()
        columns = self._columns
        cells = row_cells(exchange, columns)
        segments: list[Segment] = []
        for i, (cell, column, width) in enumerate(zip(cells, columns, self._widths)):  # widths checked in render_line
            text = _fit(cell, width, column.align)
            style = row_style
            if column.title in ("outcome", "status", "hop") and outcome.word not in ("ok", "open"):
                style = row_style + Style(bold=True)
            elif outcome.word in ("ok", "open") and column.title in ("time", "ms", "run"):
                style = self._style("dim")
            segments.append(Segment(text, style))
            if i < len(columns) - 1:
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
        view = self.view
        if index >= len(view):
            return Strip.blank(width, self.rich_style)
        self.widths  # recompute (and drop the cache) if the usable width or the columns changed
        segments = self._segments(view.position_at(index))
        strip = Strip(segments)
        if index == view.focus_index:
            highlight = self._style("reverse") if self.app.no_color else self._style("on #2b4a6b")
            if self.has_focus:
                highlight = highlight + Style(bold=True)
            strip = strip.apply_style(highlight)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    # -- keys and mouse: operations on the view --------------------------------------------------

    def _scroll_to_cursor(self) -> None:
        cursor = self.view.focus_index
        if cursor < 0:
            return
        top = self.scroll_offset.y
        height = max(1, self.size.height)
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.view.move(delta)

    def action_page(self, direction: int) -> None:
        self.view.move(direction * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self.view.first()

    def action_last(self) -> None:
        self.view.last()

    def action_select(self) -> None:
        if self.view.focus is not None:
            self.post_message(self.Selected(self.view.focus))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.view):
            self.view.go(index)
            if event.chain >= 2:
                self.action_select()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.view.following = False


class TableHeader(ScrollView):
    """The column titles above :class:`ExchangeTable`, sized to match it."""

    DEFAULT_CSS = """
    TableHeader { height: 1; overflow: hidden hidden; }
    """

    def render_line(self, y: int) -> Strip:
        tables = self.parent.query(ExchangeTable) if self.parent is not None else []
        widths = tables[0].widths if tables else column_widths(max(40, self.size.width))
        columns = tables[0].columns if tables else COLUMNS
        text = " ".join(_fit(c.title, w, c.align) for c, w in zip(columns, widths))
        return Strip([Segment(text, Style(bold=True, underline=True))]).crop_extend(0, self.size.width, self.rich_style)

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()

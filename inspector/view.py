"""The exchanges as a screen shows them: filtered, in arrival order, with a focus that can follow the tail.

Modelled on mitmproxy's ``addons/view.py``: the store holds every record; the
view holds which of them pass the filter, which one has the focus and whether
the focus follows new records. Widgets render the view and subscribe to its
changes; they keep no row state of their own.

The view is driven from one thread (the UI's) by :meth:`ExchangeView.sync`,
which takes what the proxy thread added *or replaced* since the last call. A
record is re-emitted with the same id when it changes (a CONNECT tunnel is
recorded when the proxy answers 200 and again when TLS fails behind it), so a
replaced record is filtered again: with ``hop:tls`` typed, a tunnel that later
fails TLS appears; with ``hop:proxy`` typed, it leaves.

No Textual import here: the view is tested as plain Python (``tests/unit/test_view.py``).
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .filtering import Query
from .records import Exchange
from .session import SessionStore

logger = logging.getLogger(__name__)

_names = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ViewChange:
    """What one operation changed, so a subscriber redraws only when it must."""

    added: int = 0
    """Rows that entered the view (new records, or replaced ones that now pass the filter)."""
    removed: int = 0
    """Rows that left the view (replaced records that no longer pass)."""
    updated: int = 0
    """Rows whose record was replaced and still pass (same place, new content)."""
    refreshed: bool = False
    """The rows were rebuilt from the store (filter changed, reset)."""
    focus_moved: bool = False
    """The focus is on another exchange, or its record was replaced."""

    @property
    def rows_changed(self) -> bool:
        """The number or order of rows changed: a renderer must resize and redraw."""
        return bool(self.added or self.removed or self.refreshed)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.updated or self.refreshed or self.focus_moved)


Listener = Callable[[ViewChange], None]


class ExchangeView(Sequence[Exchange]):
    """A filtered, ordered window on a :class:`SessionStore`, with focus and follow-the-tail.

    ``view[i]`` is the i-th exchange that passes the filter, in arrival order.
    Positions are the store's (stable: a replaced record keeps its place).
    """

    def __init__(self, store: SessionStore, query: Query | None = None, *, follow: bool = True) -> None:
        self.store = store
        self._query = query
        self._positions: list[int] = []
        """Store positions that pass the filter, ascending (arrival order)."""
        self._seen = 0
        """Store positions below this have been taken; the rest are new."""
        self._name = f"view-{next(_names)}"
        store.subscribe(self._name)
        self._focus: int | None = None
        """The focused record's store position."""
        self._focus_index: int | None = None
        """Cache of the focus's row index; ``None`` when it must be looked up again."""
        self.following = follow
        """True while the focus stays on the last row as rows arrive."""
        self.runs = 0
        """The highest run number among the records taken so far (0 before any); a re-emitted record keeps its run."""
        self._listeners: list[Listener] = []
        self._last_focus: Exchange | None = None
        """The focused record as subscribers last heard of it."""

    # -- sequence -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.store[p] for p in self._positions[index]]
        return self.store[self._positions[index]]

    def __iter__(self) -> Iterator[Exchange]:
        store = self.store
        return (store[p] for p in self._positions)

    @property
    def positions(self) -> Sequence[int]:
        """The store positions of the rows (read-only for callers): ``store[positions[i]] is view[i]``."""
        return self._positions

    def position_at(self, index: int) -> int:
        """The store position of row ``index``: stable across replacements, a key for render caches."""
        return self._positions[index]

    def index_of(self, exchange_id: str) -> int | None:
        """The row of an exchange, or ``None`` when it is not in the view."""
        position = self.store.position(exchange_id)
        return None if position is None else self._row(position)

    def _row(self, position: int) -> int | None:
        i = bisect.bisect_left(self._positions, position)
        return i if i < len(self._positions) and self._positions[i] == position else None

    @property
    def query(self) -> Query | None:
        return self._query

    @property
    def total(self) -> int:
        """Records in the store, shown or not."""
        return len(self.store)

    @property
    def pending(self) -> int:
        """Records the store holds that the view has not taken yet (while the screen is paused)."""
        return max(0, len(self.store) - self._seen)

    # -- subscribers -------------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        """Call ``listener(change)`` after every operation that changed something."""
        self._listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, change: ViewChange) -> ViewChange:
        if change:
            for listener in list(self._listeners):
                listener(change)
        return change

    # -- focus --------------------------------------------------------------------------------

    @property
    def focus(self) -> Exchange | None:
        """The focused exchange (its latest record), or ``None`` when the view is empty."""
        focus = self._focus
        if focus is None or focus >= len(self.store):  # a cleared store, before the reset
            return None
        return self.store[focus]

    @property
    def focus_index(self) -> int:
        """The focused row, or -1."""
        if self._focus is None:
            return -1
        if self._focus_index is None:
            row = self._row(self._focus)
            self._focus_index = -1 if row is None else row
        return self._focus_index

    def _focus_changed(self) -> bool:
        """Is the focused record another object than at the last operation (moved, or replaced in place)?"""
        focus = self.focus
        changed = focus is not self._last_focus
        self._last_focus = focus
        return changed

    def _set_focus_row(self, index: int) -> None:
        if not self._positions:
            self._focus = self._focus_index = None
            return
        index = max(0, min(len(self._positions) - 1, index))
        self._focus = self._positions[index]
        self._focus_index = index

    def go(self, index: int) -> ViewChange:
        """Focus row ``index`` (clamped); follow the tail again when it is the last row."""
        if not self._positions:
            return ViewChange()
        self._set_focus_row(index)
        self.following = self._focus_index == len(self._positions) - 1
        return self._emit(ViewChange(focus_moved=self._focus_changed()))

    def move(self, delta: int) -> ViewChange:
        """Move the focus by ``delta`` rows (negative: up)."""
        if not self._positions:
            return ViewChange()
        start = self.focus_index
        if start < 0:  # no focus yet: the first step lands on an end
            return self.go(0 if delta > 0 else len(self._positions) - 1)
        return self.go(start + delta)

    def first(self) -> ViewChange:
        return self.go(0)

    def last(self) -> ViewChange:
        """Focus the last row and follow the tail from now on (even while the view is empty)."""
        change = self.go(len(self._positions) - 1)
        self.following = True
        return change

    def focus_on(self, exchange_id: str) -> bool:
        """Focus one exchange (a finding's evidence) and stop following; False when it is not shown."""
        row = self.index_of(exchange_id)
        if row is None:
            return False
        self._set_focus_row(row)
        self.following = False
        self._emit(ViewChange(focus_moved=self._focus_changed()))
        return True

    # -- data ----------------------------------------------------------------------------------

    def sync(self) -> ViewChange:
        """Take the records added or replaced since the last call; filter them; move a following focus."""
        store = self.store
        batch = store.drain(self._name)  # first: whatever lands after this is in the next batch
        total = len(store)
        seen = self._seen
        if total < seen:  # the store was cleared behind our back
            logger.debug("store shrank from %d to %d records: rebuilding the view", seen, total)
            return self._rebuild(keep_focus=False)
        added = removed = updated = 0
        runs = self.runs
        query = self._query
        positions = self._positions
        # new records, in arrival order (their latest version: the store keeps only that)
        new = list(map(store.__getitem__, range(seen, total)))
        if new:
            runs = max(runs, max(e.run for e in new))
            if query is None:
                positions.extend(range(seen, total))
                added = len(new)
            else:
                for position, exchange in enumerate(new, seen):
                    if query(exchange):
                        positions.append(position)
                        added += 1
        self._seen = total
        # records the view had already taken and that were replaced since: filter them again
        lost_focus: int | None = None
        replaced: set[str] = set()
        if seen and batch:
            fresh = {e.id for e in new}
            replaced = {e.id for e in batch if e.id not in fresh}
        for exchange_id in replaced:
            position = store.position(exchange_id)
            if position is None or position >= seen:
                continue
            exchange = store[position]
            row = self._row(position)
            if query is None or query(exchange):
                if row is None:
                    bisect.insort(positions, position)
                    added += 1
                else:
                    updated += 1
            elif row is not None:
                del positions[row]
                removed += 1
                if position == self._focus:
                    lost_focus = position
        if replaced:
            self._focus_index = None
        self.runs = runs
        self._settle_focus(lost_focus)
        return self._emit(ViewChange(added=added, removed=removed, updated=updated, focus_moved=self._focus_changed()))

    def _settle_focus(self, lost: int | None) -> None:
        """After rows changed: follow the tail, or move a focus that left the view to the next row in arrival order."""
        if not self._positions:
            self._focus = self._focus_index = None
        elif self.following:
            self._set_focus_row(len(self._positions) - 1)
        elif lost is not None:
            self._set_focus_row(bisect.bisect_left(self._positions, lost))
        elif self._focus is None:
            self._set_focus_row(0)

    def set_filter(self, query: Query | None) -> ViewChange:
        """Filter every record again (the store holds them all); keep the focus when it still passes."""
        self._query = query
        return self._rebuild(keep_focus=True)

    def reset(self) -> ViewChange:
        """Start over after the store was cleared (the demo's next attempt): follow the tail again."""
        self.following = True
        return self._rebuild(keep_focus=False)

    def _rebuild(self, *, keep_focus: bool) -> ViewChange:
        store = self.store
        store.drain(self._name)  # everything up to now is read below
        total = len(store)
        query = self._query
        if query is None:
            self._positions = list(range(total))
        else:
            self._positions = [p for p in range(total) if query(store[p])]
        # a record keeps its run when re-emitted: only records not taken yet can raise the count (unless starting over)
        since = self._seen if keep_focus and self._seen <= total else 0
        newest = max((store[p].run for p in range(since, total)), default=0)
        self.runs = max(self.runs, newest) if since else newest
        self._seen = total
        focus = self._focus if keep_focus else None
        self._focus_index = None
        if focus is not None and focus < total and (row := self._row(focus)) is not None:
            self._focus, self._focus_index = focus, row
            if self.following and row != len(self._positions) - 1:
                self._set_focus_row(len(self._positions) - 1)
        elif not self._positions:
            self._focus = None
        elif self.following or focus is None:
            self._set_focus_row(len(self._positions) - 1 if self.following else 0)
        else:  # the focus was filtered out: its nearest neighbour in arrival order
            self._set_focus_row(bisect.bisect_left(self._positions, focus))
        return self._emit(ViewChange(refreshed=True, focus_moved=self._focus_changed()))

"""Records are built off the proxy's event loop: the loop hands over facts, one worker thread builds.

The capture's hooks run on mitmproxy's loop, where every microsecond delays
npm's answer (a ``response`` hook runs before the answer is sent on). So a
hook only snapshots the exchange's facts (:class:`~inspector.build.ExchangeFacts`,
immutable) and puts them here; a worker thread redacts, classifies and caps
them (:func:`~inspector.build.build_exchange`) and calls the sink — in the
order they were put, so an open tunnel's record never overtakes its update.

Guarantees kept: nothing is lost (:meth:`Handoff.flush` waits until everything
put so far reached the sink; :meth:`Handoff.close` drains the rest); records
are redacted before any consumer sees them (the sink only ever gets built
records); memory is bounded (past :data:`MAX_PENDING` waiting exchanges the
loop builds them itself, which slows the proxy instead of growing the queue).

The worker wakes on a short timer or when a batch has gathered, not for every
exchange: one thread switch per batch, not per request.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .build import ExchangeFacts, build_exchange
from .records import Exchange

if TYPE_CHECKING:
    from .vault import SecretVault

logger = logging.getLogger(__name__)

Sink = Callable[[Exchange], None]

MAX_PENDING = 5000
"""Exchanges waiting to be built; past this the proxy's loop builds them itself (back-pressure)."""
BATCH = 64
"""Wake the worker at once when this many are waiting."""
INTERVAL = 0.02
"""Otherwise the worker looks every this many seconds."""


class Handoff:
    """An ordered hand-over from the proxy's loop to the sink: facts are built on a worker thread.

    ``threaded=False`` builds on the caller's thread at once (mitmproxy's test
    harness, the stock ``mitmdump -s`` addon).
    """

    def __init__(self, sink: Sink, vault: "SecretVault | None" = None, *, threaded: bool = True) -> None:
        self.sink = sink
        self.vault = vault
        self.threaded = threaded
        self._items: collections.deque[ExchangeFacts | Exchange] = collections.deque()
        self._drain_lock = threading.Lock()
        self._done = threading.Condition()
        self._put = 0
        self._handed = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def put(self, item: ExchangeFacts | Exchange) -> None:
        """Hand over one exchange's facts (or a record built already); never blocks on the sink's consumers."""
        if not self.threaded:
            self._hand(item)
            return
        self._items.append(item)
        self._put += 1
        if self._thread is None:
            self._start()
        pending = len(self._items)
        if pending >= MAX_PENDING:
            self._drain()  # the worker cannot keep up: build here, slowing the proxy rather than growing memory
        elif pending >= BATCH:
            self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far has reached the sink; False when ``timeout`` passed first."""
        if not self.threaded:
            return True
        target = self._put
        if self._thread is None or not self._thread.is_alive():
            self._drain()
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._handed >= target, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Hand over what is left and stop the worker (idempotent)."""
        self._stop = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._drain()

    def _start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="npm-inspect-records", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(INTERVAL)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        with self._drain_lock:
            items = self._items
            handed = 0
            while items:
                try:
                    item = items.popleft()
                except IndexError:
                    break
                self._hand(item)
                handed += 1
            if handed:
                with self._done:
                    self._handed += handed
                    self._done.notify_all()

    def _hand(self, item: ExchangeFacts | Exchange) -> None:
        try:
            record = build_exchange(item, vault=self.vault) if isinstance(item, ExchangeFacts) else item
        except Exception:  # a builder bug must never break the proxy path, nor lose the exchanges after it
            logger.exception("npm-inspect could not build the record of exchange %s", getattr(item, "id", "?"))
            return
        try:
            self.sink(record)
        except Exception:  # a consumer's bug must never break the proxy path
            logger.exception("npm-inspect sink failed for exchange %s", record.id)

"""The view model between the store and the screen: filtered, in arrival order, focus and follow-the-tail."""

from __future__ import annotations

import threading
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.filtering import parse
from inspector.records import ErrorInfo, Exchange, Hop, TlsInfo
from inspector.session import SessionStore
from inspector.view import ExchangeView, ViewChange
from tests.strategies import make_exchange

FILTERS = ["", "hop:tls", "hop:proxy", "status:4xx", "-status:200", "run:2", "run:1,3", "kind:connect", "outcome:tls", "lodash"]


def query(text: str):
    return parse(text) if text.strip() else None


def expected(store: SessionStore, text: str) -> list[Exchange]:
    """The view computed from scratch: every record that passes, in arrival order."""
    q = query(text)
    return [e for e in store.exchanges() if q is None or q(e)]


def check(view: ExchangeView, store: SessionStore, text: str) -> None:
    assert list(view) == expected(store, text)
    assert len(view) == len(view.positions)
    if len(view):
        assert view.focus is not None and view.focus is view[view.focus_index]
        if view.following:
            assert view.focus_index == len(view) - 1
    else:
        assert view.focus is None and view.focus_index == -1
    assert view.runs == max((e.run for e in store.exchanges()), default=0)


def open_tunnel(n: int = 1, **fields) -> Exchange:
    return make_exchange(id=f"t-{n}", kind="connect", status=200, hop=Hop.PROXY, state="open", **fields)


def failed_tls(tunnel: Exchange) -> Exchange:
    return replace(tunnel, hop=Hop.TLS, state="done", status=200, tls=TlsInfo(failed_by=Hop.CLIENT, error="unknown ca"),
                   error=ErrorInfo("tls", "npm rejected the inspector's certificate"))


# -- the property -----------------------------------------------------------------------------

_record = st.builds(
    lambda kind, status, hop, run, path: (kind, status, hop, run, path),
    st.sampled_from(["connect", "http"]),
    st.sampled_from([None, 200, 304, 401, 403, 407, 502]),
    st.sampled_from([None, *Hop]),
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["/lodash", "/left-pad", "/lodash/-/lodash-4.17.21.tgz"]),
)
_operation = st.one_of(
    st.tuples(st.just("add"), _record),
    st.tuples(st.just("replace"), st.integers(min_value=0, max_value=50), _record),
    st.tuples(st.just("filter"), st.sampled_from(FILTERS)),
    st.tuples(st.just("sync")),
    st.tuples(st.just("move"), st.integers(min_value=-5, max_value=5)),
    st.tuples(st.just("last")),
    st.tuples(st.just("focus"), st.integers(min_value=0, max_value=50)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_operation, max_size=40), st.sampled_from(FILTERS))
def test_after_any_adds_replacements_and_filter_changes_the_view_is_the_store_filtered_from_scratch(operations, first_filter):
    store = SessionStore()
    view = ExchangeView(store, query(first_filter))
    text = first_filter
    ids: list[str] = []
    for operation in operations:
        name = operation[0]
        if name in ("add", "replace"):
            kind, status, hop, run, path = operation[-1]
            fields = dict(kind=kind, status=status, hop=hop, run=run, path="" if kind == "connect" else path,
                          method="CONNECT" if kind == "connect" else "GET",
                          error=ErrorInfo("tls", "x") if hop is Hop.TLS else None)
            if name == "add" or not ids:
                record = make_exchange(**fields)
                ids.append(record.id)
            else:
                original = store.get(ids[operation[1] % len(ids)])
                fields["run"] = original.run  # a re-emitted record stays in the run that made it
                record = replace(original, **fields)
            store.add(record)
        elif name == "filter":
            text = operation[1]
            view.set_filter(query(text))
            check(view, store, text)
        elif name == "sync":
            view.sync()
            check(view, store, text)
        elif name == "move":
            view.move(operation[1])
        elif name == "last":
            view.last()
        elif name == "focus" and ids:
            view.focus_on(ids[operation[1] % len(ids)])
    view.sync()
    check(view, store, text)


def test_records_added_and_replaced_from_another_thread_while_syncing_end_up_filtered_from_scratch():
    """The proxy thread adds while the UI thread syncs: nothing is lost between a drain and a count."""
    store = SessionStore()
    view = ExchangeView(store, query("hop:tls"))
    tunnels = [open_tunnel(n) for n in range(2000)]
    done = threading.Event()

    def proxy() -> None:
        for n, tunnel in enumerate(tunnels):
            store.add(tunnel)
            if n % 3 == 0:
                store.add(failed_tls(tunnels[n // 2]))
        done.set()

    thread = threading.Thread(target=proxy)
    thread.start()
    while not done.is_set():
        view.sync()
    thread.join()
    view.sync()
    check(view, store, "hop:tls")
    assert len(view) > 0


# -- the regression: a replaced record is filtered again ------------------------------------------


def test_a_tunnel_that_fails_tls_after_hop_tls_was_typed_appears():
    store = SessionStore()
    tunnel = open_tunnel()
    store.add(tunnel)
    view = ExchangeView(store, query("hop:tls"))
    view.sync()
    assert list(view) == []
    store.add(failed_tls(tunnel))
    change = view.sync()
    assert change.added == 1 and [e.hop for e in view] == [Hop.TLS]
    assert view.focus is not None and view.focus.hop is Hop.TLS


def test_a_replaced_record_that_no_longer_passes_leaves_and_the_focus_goes_to_its_neighbour():
    store = SessionStore()
    tunnel = open_tunnel()
    store.extend([make_exchange(kind="connect", hop=Hop.PROXY), tunnel, make_exchange(kind="connect", hop=Hop.PROXY)])
    view = ExchangeView(store, query("hop:proxy"))
    view.sync()
    assert view.focus_on(tunnel.id) and not view.following
    store.add(failed_tls(tunnel))
    change = view.sync()
    assert change.removed == 1 and change.focus_moved
    assert len(view) == 2 and view.focus is view[1]


def test_a_focused_record_replaced_in_place_tells_the_screen_to_redraw_it():
    store = SessionStore()
    tunnel = open_tunnel()
    store.add(tunnel)
    view = ExchangeView(store)
    view.sync()
    seen: list[ViewChange] = []
    view.listen(seen.append)
    store.add(replace(tunnel, state="done"))
    view.sync()
    assert seen == [ViewChange(updated=1, focus_moved=True)]
    assert view.focus is not None and view.focus.state == "done"


# -- focus and follow-the-tail --------------------------------------------------------------------


def test_the_focus_follows_the_tail_until_the_user_moves_up_and_end_follows_again():
    store = SessionStore()
    view = ExchangeView(store)
    store.extend([make_exchange() for _ in range(10)])
    view.sync()
    assert view.following and view.focus_index == 9
    view.move(-2)
    assert not view.following and view.focus_index == 7
    pinned = view.focus
    store.extend([make_exchange() for _ in range(5)])
    view.sync()
    assert view.focus is pinned and view.focus_index == 7
    view.last()
    assert view.following and view.focus_index == 14
    store.add(make_exchange())
    view.sync()
    assert view.focus_index == 15


def test_moving_onto_the_last_row_follows_again_and_moves_are_clamped():
    store = SessionStore()
    store.extend([make_exchange() for _ in range(3)])
    view = ExchangeView(store)
    view.sync()
    view.first()
    assert view.focus_index == 0 and not view.following
    view.move(-10)
    assert view.focus_index == 0
    view.move(10)
    assert view.focus_index == 2 and view.following


def test_a_new_filter_keeps_the_focus_when_it_still_passes_else_takes_the_nearest_row():
    store = SessionStore()
    records = [make_exchange(status=s) for s in (200, 407, 200, 407, 200)]
    store.extend(records)
    view = ExchangeView(store)
    view.sync()
    view.focus_on(records[3].id)
    view.set_filter(query("status:407"))
    assert view.focus is records[3] and view.focus_index == 1
    view.focus_on(records[1].id)
    view.set_filter(None)
    view.focus_on(records[2].id)
    view.set_filter(query("status:407"))
    assert view.focus is records[3]  # record 2 was filtered out: the next one in arrival order
    view.set_filter(query("status:500"))
    assert view.focus is None and len(view) == 0


def test_focus_on_an_exchange_that_is_not_shown_says_so():
    store = SessionStore()
    record = make_exchange(status=200)
    store.add(record)
    view = ExchangeView(store, query("status:407"))
    view.sync()
    assert not view.focus_on(record.id) and not view.focus_on("no-such-id")


def test_listeners_hear_only_real_changes():
    store = SessionStore()
    view = ExchangeView(store)
    seen: list[ViewChange] = []
    view.listen(seen.append)
    view.sync()
    view.move(1)
    assert seen == []
    store.add(make_exchange())
    view.sync()
    assert seen == [ViewChange(added=1, focus_moved=True)]
    view.unlisten(seen.append)
    store.add(make_exchange())
    view.sync()
    assert len(seen) == 1


# -- the store's life ------------------------------------------------------------------------------


def test_pending_counts_what_a_paused_screen_has_not_taken():
    store = SessionStore()
    view = ExchangeView(store)
    store.extend([make_exchange() for _ in range(4)])
    assert view.pending == 4 and len(view) == 0
    view.sync()
    assert view.pending == 0 and len(view) == 4


def test_a_cleared_store_starts_the_view_over():
    store = SessionStore()
    view = ExchangeView(store)
    store.extend([make_exchange(run=2) for _ in range(5)])
    view.sync()
    view.move(-3)
    store.clear()
    store.add(make_exchange())
    view.reset()
    assert len(view) == 1 and view.following and view.runs == 1
    store.clear()
    view.sync()  # noticed without a reset, because the store shrank
    assert len(view) == 0 and view.focus is None


def test_the_view_knows_how_many_runs_the_session_has():
    store = SessionStore()
    view = ExchangeView(store, query("run:1"))
    store.add(make_exchange())
    view.sync()
    assert view.runs == 1
    store.add(make_exchange(run=2))
    view.sync()
    assert view.runs == 2 and len(view) == 1

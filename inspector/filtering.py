"""The dashboard's one-line filter: ``status:403 hop:proxy host:registry method:CONNECT`` plus free text.

Terms are AND-ed. ``key:value`` terms: ``status`` (``403``, ``4xx``, ``error``),
``hop``, ``host``, ``path``, ``method``, ``kind`` (``connect``/``http``),
``outcome`` (see :mod:`inspector.outcome`), ``id`` (comma-separated), ``run``
(a run number of the session, or several comma-separated: ``run:2``). A bare
word matches host or path. A leading ``-`` negates a term.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from .outcome import outcome_of
from .records import Exchange

Predicate = Callable[[Exchange], bool]
KEYS = ("status", "hop", "host", "path", "method", "kind", "outcome", "id", "run")


class FilterError(ValueError):
    """The query cannot be understood; the message says why."""


@dataclass(frozen=True)
class Query:
    text: str
    predicate: Predicate

    def __call__(self, exchange: Exchange) -> bool:
        return self.predicate(exchange)


def _status(value: str) -> Predicate:
    value = value.lower()
    if value in ("error", "failed", "fail"):
        return lambda e: e.failed
    if value == "none":
        return lambda e: e.status is None
    if len(value) == 3 and value[0].isdigit() and value[1:] == "xx":
        digit = int(value[0])
        return lambda e: e.status is not None and e.status // 100 == digit
    if value.isdigit():
        code = int(value)
        return lambda e: e.status == code
    raise FilterError(f"status:{value} — use a code (403), a class (4xx) or 'error'")


def _run(value: str) -> Predicate:
    numbers = value.split(",")
    if not all(n.isascii() and n.isdigit() and int(n) >= 1 for n in numbers):
        raise FilterError(f"run:{value} — use a run number of this session (run:2) or several (run:1,2)")
    runs = frozenset(int(n) for n in numbers)
    return lambda e: e.run in runs


def _term(term: str) -> Predicate:
    key, sep, value = term.partition(":")
    if not sep or key.lower() not in KEYS:
        needle = term.lower()
        return lambda e: needle in e.host.lower() or needle in e.path.lower()
    key = key.lower()
    needle = value.lower()
    if key == "status":
        return _status(value)
    if key == "hop":
        return lambda e: e.hop is not None and e.hop.value == needle
    if key == "host":
        return lambda e: needle in e.host.lower()
    if key == "path":
        return lambda e: needle in e.path.lower()
    if key == "method":
        return lambda e: e.method.lower() == needle
    if key == "kind":
        return lambda e: e.kind == needle
    if key == "outcome":
        return lambda e: outcome_of(e).word == needle
    if key == "run":
        return _run(value)
    ids = frozenset(value.split(","))
    return lambda e: e.id in ids


def parse(text: str) -> Query:
    """Compile a filter; raise :class:`FilterError` with a hint when it makes no sense."""
    try:
        terms = shlex.split(text)
    except ValueError as e:
        raise FilterError(f"unbalanced quote in filter ({e})") from None
    predicates: list[Predicate] = []
    for term in terms:
        negate = term.startswith("-") and len(term) > 1
        predicate = _term(term[1:] if negate else term)
        predicates.append((lambda p: lambda e: not p(e))(predicate) if negate else predicate)
    if not predicates:
        return Query(text, lambda e: True)
    return Query(text, lambda e: all(p(e) for p in predicates))

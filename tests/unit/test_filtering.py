"""The dashboard's filter line, including `run:N` for sessions that hold several npm runs."""

from __future__ import annotations

import pytest

from inspector.filtering import FilterError, parse
from inspector.records import Hop
from tests.strategies import make_exchange


def test_run_picks_the_exchanges_of_one_run_or_several():
    first, second, third = (make_exchange(run=n) for n in (1, 2, 3))
    assert [parse("run:2")(e) for e in (first, second, third)] == [False, True, False]
    assert [parse("run:1,3")(e) for e in (first, second, third)] == [True, False, True]
    assert [parse("-run:1")(e) for e in (first, second, third)] == [False, True, True]


def test_run_combines_with_other_terms():
    refused = make_exchange(kind="connect", status=407, hop=Hop.PROXY, run=1)
    after_fix = make_exchange(kind="connect", status=200, hop=Hop.PROXY, run=2)
    query = parse("hop:proxy run:2")
    assert not query(refused) and query(after_fix)


@pytest.mark.parametrize("text", ["run:x", "run:0", "run:", "run:1,,2", "run:²"])
def test_a_run_that_is_not_a_number_is_explained(text):
    with pytest.raises(FilterError, match="run number"):
        parse(text)

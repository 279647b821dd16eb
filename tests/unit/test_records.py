"""Records: plain data that survives JSON and says what it is."""

import json
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

import dataclasses

from inspector.records import Exchange, Hop, from_dict, to_dict
from tests.strategies import complete_exchanges, exchanges, make_exchange


@given(exchanges)
def test_a_record_survives_a_json_round_trip(exchange: Exchange):
    assert from_dict(json.loads(json.dumps(to_dict(exchange)))) == exchange


@given(complete_exchanges)
def test_every_field_survives_a_json_round_trip_and_to_dict_is_asdict(exchange: Exchange):
    data = to_dict(exchange)
    assert from_dict(json.loads(json.dumps(data))) == exchange
    assert json.loads(json.dumps(data)) == json.loads(json.dumps(dataclasses.asdict(exchange)))


@given(exchanges, st.integers(min_value=1, max_value=10_000))
def test_the_run_number_survives_a_json_round_trip(exchange: Exchange, run: int):
    numbered = replace(exchange, run=run)
    assert from_dict(json.loads(json.dumps(to_dict(numbered)))).run == run


def test_a_record_saved_before_runs_existed_reads_as_run_1():
    data = to_dict(make_exchange(run=3))
    del data["run"]
    assert from_dict(data).run == 1


def test_unknown_keys_are_ignored_and_missing_ones_defaulted():
    data = to_dict(make_exchange(status=407, hop=Hop.PROXY))
    data["added_in_a_future_version"] = {"x": 1}
    del data["body_preview"]
    record = from_dict(data)
    assert record.status == 407 and record.body_preview is None


def test_display_urls():
    assert make_exchange(kind="connect", host="registry.npmjs.org", port=443).url == "registry.npmjs.org:443"
    assert make_exchange(scheme="https", host="r.example", port=443, path="/x").url == "https://r.example/x"
    assert make_exchange(scheme="http", host="r.example", port=4873, path="/x").url == "http://r.example:4873/x"


def test_failed_means_an_error_status_or_no_answer():
    assert make_exchange(status=407).failed
    assert not make_exchange(status=304).failed
    assert make_exchange(status=None, error=None).failed is False

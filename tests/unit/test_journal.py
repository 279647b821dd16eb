"""The session journal: crash-safe, torn lines skipped, followable, and capture survives a full disk."""

from __future__ import annotations

import dataclasses
import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.diagnose import diagnose
from inspector.errors import SessionFileError
from inspector.journal import JournalFollower, JournalWriter, list_sessions, read_journal
from inspector.npmconfig import ConfigValue, NpmConfigSnapshot
from inspector.session import SessionInfo, SessionStore
from tests.lab.procs import wait_until
from tests.strategies import make_exchange
from tests.tui.conftest import proxy_407_session

CONFIG = NpmConfigSnapshot(values={"https-proxy": ConfigValue("https-proxy", "http://u:***@p:1", "user", "/h/.npmrc")})


def write_session(path, store, info, findings=True):
    writer = JournalWriter(path, store, info, CONFIG).start()
    if findings:
        writer.write_findings(diagnose(store.exchanges(), CONFIG))
    writer.close()
    return writer


def test_a_journal_reads_back_records_findings_and_metadata(tmp_path):
    store, info = proxy_407_session()
    write_session(tmp_path / "s.jsonl", store, info)
    contents = read_journal(tmp_path / "s.jsonl")
    assert [e.id for e in contents.exchanges] == [e.id for e in store.exchanges()]
    assert contents.info.npm_argv == ["npm", "install", "lodash"] and contents.config == CONFIG
    assert contents.findings[0].rule == "proxy-auth-required" and contents.warnings == []


def test_the_journal_is_owner_only(tmp_path):
    store, info = proxy_407_session()
    write_session(tmp_path / "s.jsonl", store, info)
    assert stat.S_IMODE(os.stat(tmp_path / "s.jsonl").st_mode) == 0o600


def test_records_added_while_running_are_flushed_in_batches_and_the_last_version_wins(tmp_path):
    store = SessionStore()
    writer = JournalWriter(tmp_path / "s.jsonl", store, SessionInfo(), None).start()
    first = make_exchange(kind="connect", state="open", status=200)
    store.add(first)
    wait_until(lambda: '"state":"open"' in (tmp_path / "s.jsonl").read_text(), timeout=5, what="the open record to be flushed")
    store.add(dataclasses.replace(first, state="done"))
    writer.close()
    (record,) = read_journal(tmp_path / "s.jsonl").exchanges
    assert record.state == "done"


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    store, info = proxy_407_session()
    path = tmp_path / "s.jsonl"
    write_session(path, store, info, findings=False)
    with path.open("a") as f:
        f.write('{"type":"exchange","data":{"id":"half')
    contents = read_journal(path)
    assert len(contents.exchanges) == len(store)
    assert len(contents.warnings) == 1 and "torn" in contents.warnings[0]


def test_a_broken_middle_line_loses_only_itself(tmp_path):
    store, info = proxy_407_session()
    path = tmp_path / "s.jsonl"
    write_session(path, store, info, findings=False)
    lines = path.read_text().splitlines()
    lines[3] = "{garbage"
    path.write_text("\n".join(lines) + "\n")
    contents = read_journal(path)
    assert len(contents.exchanges) == len(store) - 1 and "line 4" in contents.warnings[0]


def test_files_that_are_not_journals_are_refused_with_a_hint(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(SessionFileError, match="not an npm-inspect session"):
        read_journal(path)
    with pytest.raises(SessionFileError, match="directory"):
        read_journal(tmp_path)


def test_a_follower_sees_new_records_within_a_second(tmp_path):
    source = SessionStore()
    path = tmp_path / "s.jsonl"
    writer = JournalWriter(path, source, SessionInfo(npm_argv=["npm", "ci"]), CONFIG).start()
    mirror = SessionStore()
    follower = JournalFollower(path, mirror).start()
    try:
        source.add(make_exchange(status=407))
        wait_until(lambda: len(mirror) == 1, timeout=1.0, what="the follower to see the record")
        assert follower.parser.info.npm_argv == ["npm", "ci"]
    finally:
        follower.stop()
        writer.close()


def test_a_full_disk_turns_the_journal_off_but_not_the_capture(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    store = SessionStore()
    errors: list[str] = []
    import pathlib

    writer = JournalWriter(pathlib.Path("/dev/full"), store, SessionInfo(), None, on_error=errors.append)
    writer.start()
    store.add(make_exchange(status=200))
    writer.close()
    assert writer.error and "capture continues in memory" in writer.error and errors
    assert len(store) == 1


def test_sessions_are_listed_newest_first(tmp_path, monkeypatch):
    store, info = proxy_407_session()
    directory = tmp_path / "sessions"
    directory.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        write_session(directory / name, store, info)
        os.utime(directory / name, (1000 if name == "a.jsonl" else 2000,) * 2)
    listed = list(list_sessions(directory))
    assert [p.name for p, *_ in listed] == ["b.jsonl", "a.jsonl"]
    assert listed[0][2] == len(store) and listed[0][3] == 4


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=50), st.builds(lambda d: json.dumps(d), st.dictionaries(st.sampled_from(["type", "data", "schema", "info"]), st.one_of(st.text(max_size=5), st.integers(), st.none(), st.just("exchange"), st.just({}))))), max_size=10))
def test_the_reader_never_crashes_on_garbage_after_a_header(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("j") / "s.jsonl"
    header = json.dumps({"type": "session", "schema": "npm-inspect/journal@1", "info": {}})
    path.write_text("\n".join([header, *(line.replace("\n", " ") for line in lines)]) + "\n")
    contents = read_journal(path)
    assert isinstance(contents.exchanges, list)

"""Every file npm-inspect writes: owner-only, whole, and refused when it would hold a secret the session saw."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from inspector.errors import SecretLeakError
from inspector.har import write_har
from inspector.output import open_private_append, write_private
from inspector.records import Exchange
from inspector.session import SessionInfo
from inspector.vault import SecretVault


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_owner_only(tmp_path):
    write_private(tmp_path / "r.txt", "report")
    assert mode(tmp_path / "r.txt") == 0o600 and (tmp_path / "r.txt").read_text() == "report"


def test_an_existing_looser_file_is_replaced_by_an_owner_only_one(tmp_path):
    target = tmp_path / "out.har"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new")
    assert mode(target) == 0o600 and target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.har"]


def test_a_device_is_written_in_place():
    write_private(Path("/dev/null"), "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_appending_narrows_an_existing_file_of_ours(tmp_path):
    target = tmp_path / "s.jsonl"
    target.write_text("")
    target.chmod(0o644)
    with open_private_append(target) as f:
        f.write("line\n")
    assert mode(target) == 0o600


def test_an_output_holding_a_known_secret_is_refused_and_nothing_is_written(tmp_path):
    vault = SecretVault()
    vault.remember("Sup3r-Secret-Value")
    with pytest.raises(SecretLeakError, match="refusing to write"):
        write_private(tmp_path / "r.txt", "a report with Sup3r-Secret-Value in it", vault=vault)
    assert not (tmp_path / "r.txt").exists()


@pytest.mark.parametrize("form", ["Sup3r%2FSecret", 'Sup3r/Secret"x', "U3VwM3IvU2VjcmV0Ingi"])
def test_the_leak_check_knows_encoded_forms(form):
    vault = SecretVault()
    vault.remember('Sup3r/Secret"x')
    text = {"Sup3r%2FSecret": "Sup3r%2FSecret%22x", 'Sup3r/Secret"x': '"Sup3r/Secret\\"x"', "U3VwM3IvU2VjcmV0Ingi": "U3VwM3IvU2VjcmV0Ingi"}[form]
    assert vault.find_leak(f"before {text} after") is not None


def test_short_secrets_are_not_searched_for():
    vault = SecretVault()
    vault.remember("ab12")
    assert vault.find_leak("ab12 is everywhere") is None


def test_a_har_with_a_leaked_secret_is_refused(tmp_path):
    vault = SecretVault()
    vault.remember("npm_LeakedButUnknownShape")
    leaky = Exchange(id="a1", seq=1, kind="http", started=0.0, method="GET", scheme="https", host="r", port=443, path="/x?q=npm_LeakedButUnknownShape")
    with pytest.raises(SecretLeakError):
        write_har(tmp_path / "x.har", [leaky], SessionInfo(), vault=vault)
    assert not (tmp_path / "x.har").exists()
    write_har(tmp_path / "x.har", [leaky], SessionInfo(), vault=vault, reveal=lambda fp: None)  # --no-redact: the user asked


def test_a_streamed_output_is_checked_across_its_blocks_and_refused_whole(tmp_path):
    from inspector.output import CHUNK_CHARS, PrivateFile

    vault = SecretVault()
    vault.remember("Sup3r-Secret-Value")
    target = tmp_path / "big.har"
    target.write_text("the old file")
    with pytest.raises(SecretLeakError):
        with PrivateFile(target, vault=vault, what="the HAR") as out:
            out.write("x" * (CHUNK_CHARS - 8) + "Sup3r-Se")  # the secret straddles the first block's end
            out.write("cret-Value and more")
    assert target.read_text() == "the old file"
    assert [p.name for p in tmp_path.iterdir()] == ["big.har"]  # no temporary file left behind


def test_a_streamed_output_to_a_device_is_written_in_place():
    from inspector.output import PrivateFile

    with PrivateFile(Path("/dev/null"), vault=SecretVault()) as out:
        out.write("discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_har_whose_last_entry_leaks_leaves_the_old_file(tmp_path):
    vault = SecretVault()
    vault.remember("npm_LeakedButUnknownShape")
    records = [Exchange(id=f"a{n}", seq=n, kind="http", started=float(n), method="GET", scheme="https", host="r", port=443, path=f"/p{n}" + "x" * 200) for n in range(3000)]
    records.append(Exchange(id="last", seq=9999, kind="http", started=1e9, method="GET", scheme="https", host="r", port=443, path="/x?q=npm_LeakedButUnknownShape"))
    target = tmp_path / "x.har"
    target.write_text("old")
    with pytest.raises(SecretLeakError):
        write_har(target, records, SessionInfo(), vault=vault)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.har"]
    write_har(Path("/dev/null"), records[:-1], SessionInfo(), vault=vault)

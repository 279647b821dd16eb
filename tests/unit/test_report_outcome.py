"""Reports after a failing npm: npm's own words are shown, and "No failures." / "No problems found." never are."""

from __future__ import annotations

import json

from inspector.diagnose import diagnose
from inspector.npmoutcome import NpmOutcome
from inspector.report import render
from inspector.session import SessionInfo

OUTCOME = NpmOutcome(exit_code=1, code="ERR_INVALID_AUTH", message=("Invalid auth configuration found: `_auth` must be renamed to `//r/:_auth` in user config",), source="npm's debug log", log_file="/u/.npm/_logs/x-debug-0.log")


def info(outcome: NpmOutcome | None) -> SessionInfo:
    return SessionInfo(npm_argv=["npm", "install"], npm_exit=outcome.exit_code if outcome else 0, npm_outcome=outcome.to_dict() if outcome else None)


def test_text_markdown_and_json_after_a_failure_with_nothing_on_the_wire():
    session = info(OUTCOME)
    findings = diagnose([], None, session.outcome())
    text = render("text", session, [], findings)
    assert "npm said: ERR_INVALID_AUTH — Invalid auth configuration found" in text
    assert "No failures." not in text and "npm-config-invalid" in text
    markdown = render("markdown", session, [], findings)
    assert "- **npm said:** `ERR_INVALID_AUTH — Invalid auth" in markdown and "No problems found." not in markdown
    data = json.loads(render("json", session, [], findings))
    assert data["npm"]["error"] == {"code": "ERR_INVALID_AUTH", "message": list(OUTCOME.message), "source": "npm's debug log", "log_file": "/u/.npm/_logs/x-debug-0.log"}
    assert data["findings"][0]["rule"] == "npm-config-invalid"


def test_even_without_a_finding_a_failed_run_is_not_called_clean():
    session = info(NpmOutcome(exit_code=1))
    assert "No failures." not in render("text", session, [], []) and "No problems found." not in render("markdown", session, [], [])


def test_a_saved_session_without_npms_words_still_gets_the_fallback():
    session = SessionInfo(npm_argv=["npm", "install"], npm_exit=1)
    (finding,) = diagnose([], None, session.outcome())
    assert finding.rule == "npm-error" and "exit status 1" in finding.title


def test_a_clean_run_stays_clean():
    session = info(NpmOutcome(exit_code=0))
    assert "No failures." in render("text", session, [], []) and json.loads(render("json", session, [], []))["npm"]["error"] is None

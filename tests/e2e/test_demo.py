"""``npm-inspect demo``: every scenario with the real npm — the expected rule fires with the expected hop,
and after the one-key fix (headless: --apply-fix) npm succeeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.lab.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e


def demo(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", "demo", *args], capture_output=True, text=True, timeout=240, env=env or dict(os.environ))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_each_scenario_fires_its_rule_and_its_fix_turns_it_green(scenario):
    result = demo(scenario.name, "--report", "json", "--apply-fix")
    data = json.loads(result.stdout)
    findings = data["report"]["findings"]
    if scenario.expected_rule is None:
        assert findings == [] and data["report"]["npm"]["exit"] == 0
    else:
        assert (findings[0]["rule"], findings[0]["hop"]) == (scenario.expected_rule, scenario.expected_hop)
        assert data["report"]["npm"]["exit"] != 0
        assert data["fix"]["rule"] == scenario.expected_rule
    assert data["fix"]["passed"] is True and data["fix"]["exit"] == 0, data["fix"]
    assert result.returncode == 0


def test_the_demo_lists_its_scenarios():
    out = demo("--list").stdout
    assert [line.split()[0] for line in out.splitlines()] == [s.name for s in SCENARIOS]


def test_an_unknown_scenario_is_a_one_line_error():
    result = demo("proxy-cheese", "--report", "json")
    assert result.returncode == 2 and "choose one of proxy-auth" in result.stderr and len(result.stderr.splitlines()) == 1


def test_without_npm_the_demo_says_so_and_replays_a_recording(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = dict(os.environ, PATH=str(bin_dir))
    result = demo("registry-401", "--report", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "npm-inspect: npm is not installed, so the demo replays a recorded session of registry-401"
    assert json.loads(result.stdout)["findings"][0]["rule"] == "registry-auth-missing"


def test_every_scenario_has_a_recording_that_shows_its_rule():
    from inspector.demo.runs import recording
    from inspector.diagnoser import diagnose_saved
    from inspector.sources import load

    for scenario in SCENARIOS:
        session = load(recording(scenario.name))
        rules = [f.rule for f in diagnose_saved(session.store.exchanges(), session.info, session.config)]
        assert (rules[0] if rules else None) == scenario.expected_rule, scenario.name
    assert Path(recording("healthy")).stat().st_size > 0

"""The core never imports the UI, and only the capture layer imports mitmproxy."""

import json
import subprocess
import sys

import pytest

CORE = [
    "inspector.records",
    "inspector.redact",
    "inspector.hops",
    "inspector.npmconfig",
    "inspector.npmoutcome",
    "inspector.packument",
    "inspector.diagnose",
    "inspector.session",
    "inspector.report",
    "inspector.upstream",
    "inspector.lines",
    "inspector.bounds",
    "inspector.build",
    "inspector.handoff",
    "inspector.jsonstream",
    "inspector.listener",
    "inspector.output",
    "inspector.vault",
    "inspector.filtering",
    "inspector.view",
    "inspector.clients",
    "inspector.clients.render",
    "inspector.clients.writes",
    "inspector.fixes",
]
OPTIONAL_CORE = ["inspector.har", "inspector.journal"]


@pytest.mark.parametrize("module", CORE + OPTIONAL_CORE)
def test_core_modules_import_neither_textual_nor_mitmproxy(module):
    code = (
        "import importlib, json, sys\n"
        f"try:\n    importlib.import_module({module!r})\nexcept ModuleNotFoundError as e:\n"
        f"    print(json.dumps('missing:' + str(e.name))); sys.exit(0)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'mitmproxy', 'rich'))))"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    if isinstance(out, str):
        assert module in OPTIONAL_CORE and out == f"missing:{module}", out
        return
    assert out == [], f"{module} pulls in {out}"


@pytest.mark.parametrize("module", ["inspector.tui.app", "inspector.tui.fixloop", "inspector.lifecycle", "inspector.diagnoser"])
def test_the_dashboard_and_the_lifecycle_never_import_the_demo(module):
    """The demo drives the dashboard and the lifecycle; never the other way round (no TUI → demo arrow)."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('inspector.demo', 'inspector.lab')))))"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out == [], f"{module} pulls in {out}"


def test_npm_inspect_run_never_imports_textual_and_writes_its_phase_marks(tmp_path):
    """The whole ``run`` path — npm's config, the proxy, npm itself, the diagnosis, the report — without Textual
    (its import alone costs ~0.3 s a run); and ``NPM_INSPECT_TIMINGS`` gets the phase marks ``bench/startup.py`` reads."""
    import os
    import shutil

    if shutil.which("npm") is None:
        pytest.fail("npm is missing: run ./dev test (it installs it)")
    (tmp_path / "user.npmrc").write_text("")
    (tmp_path / "global.npmrc").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_") and "proxy" not in k.lower()}
    env.update(
        NPM_INSPECT_HOME=str(tmp_path / "home"),
        NPM_INSPECT_TIMINGS=str(tmp_path / "marks.json"),
        npm_config_userconfig=str(tmp_path / "user.npmrc"),
        npm_config_globalconfig=str(tmp_path / "global.npmrc"),
        npm_config_update_notifier="false",
    )
    code = (
        "import json, os, sys\n"
        "from inspector.cli import main\n"
        "code = main(['run', '--report-file', os.devnull, '--', 'npm', '--version'])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] == 'textual')]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    code, textual = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0, result.stderr
    assert textual == [], f"npm-inspect run imported {textual}"
    marks = json.loads((tmp_path / "marks.json").read_text())["marks"]
    names = [name for name, _ in marks]
    assert names == ["cli", "imports", "npm-config", "ca-bundle", "proxy-start", "npm", "diagnosis", "shutdown", "report"]
    times = [t for _, t in marks]
    assert times == sorted(times)

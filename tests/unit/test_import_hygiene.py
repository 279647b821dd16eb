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

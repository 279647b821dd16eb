"""Record each demo scenario once, for machines without npm: ``python -m inspector.lab.record``.

Writes ``inspector/lab/recordings/<scenario>.jsonl`` (ordinary session
journals, redacted like any other) from real runs of npm in the demo world.
"""

from __future__ import annotations

import sys

from ..diagnose import diagnose
from ..journal import JournalWriter
from ..redact import redact_argv
from ..runner import RunRequest, run
from ..session import SessionStore
from .demo import RECORDINGS
from .scenarios import SCENARIOS
from .world import DemoLab


def main() -> None:
    RECORDINGS.mkdir(exist_ok=True)
    lab = DemoLab()
    try:
        for scenario in SCENARIOS:
            world = lab.world(scenario).start()
            try:
                store = SessionStore()
                result = run(RunRequest(argv=world.argv, cwd=str(world.project), env=world.npm_env()), store, capture_output=lambda text: None)
                path = RECORDINGS / f"{scenario.name}.jsonl"
                path.unlink(missing_ok=True)
                result.info.npm_argv = redact_argv(world.argv)
                writer = JournalWriter(path, store, result.info, result.snapshot).start()
                findings = diagnose(store.exchanges(), result.snapshot, result.outcome, result.info.upstream_source)
                writer.write_findings(findings)
                writer.close()
                path.chmod(0o644)
                print(f"{scenario.name}: {len(store)} exchanges, findings {[f.rule for f in findings]}", file=sys.stderr)
            finally:
                world.stop()
    finally:
        lab.stop()


if __name__ == "__main__":
    main()

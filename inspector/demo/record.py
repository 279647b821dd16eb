"""Record each demo scenario once, for machines without npm: ``python -m inspector.demo.record``.

Writes ``inspector/lab/recordings/<scenario>.jsonl`` (ordinary session
journals, redacted like any other) from real runs of npm in the demo world.
"""

from __future__ import annotations

import sys

from ..journal import JournalWriter
from ..lab.scenarios import SCENARIOS
from ..lab.world import DemoLab
from .runs import RECORDINGS, session_for


def main() -> None:
    RECORDINGS.mkdir(exist_ok=True)
    lab = DemoLab()
    try:
        for scenario in SCENARIOS:
            world = lab.world(scenario).start()
            session = session_for(world)
            path = RECORDINGS / f"{scenario.name}.jsonl"
            path.unlink(missing_ok=True)
            try:
                session.start()
                writer = session.attach_journal(JournalWriter(path, session.store, session.info, session.snapshot).start())
                record = session.run_blocking(capture_output=lambda text: None)
                findings = session.diagnose(record.number).findings
            finally:
                session.stop()
                world.stop()
            writer.close()
            path.chmod(0o644)
            print(f"{scenario.name}: {len(session.store)} exchanges, findings {[f.rule for f in findings]}", file=sys.stderr)
    finally:
        lab.stop()


if __name__ == "__main__":
    main()

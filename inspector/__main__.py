"""``python -m inspector`` — the same as the ``npm-inspect`` command."""

import sys

if sys.version_info < (3, 12):  # before importing anything that needs 3.12
    sys.stderr.write(
        f"npm-inspect: error: Python {sys.version_info.major}.{sys.version_info.minor} is too old: "
        "run it with Python 3.12 or newer (e.g. python3.12 -m inspector)\n"
    )
    sys.exit(2)

from inspector.cli import main  # noqa: E402

sys.exit(main())

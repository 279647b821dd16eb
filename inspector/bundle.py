"""The support bundle: everything a ticket needs in one zip, redacted.

``har.har`` (the exchanges), ``report.md`` (findings, ready to paste),
``npm-config.json`` (the redacted npm config snapshot: which layer set what,
secrets only as fingerprints), ``versions.json`` and a short ``README.txt``.
"""

from __future__ import annotations

import io
import json
import platform
import sys
import zipfile
from pathlib import Path

from . import __version__
from .diagnoser import diagnose_saved, last_run
from .har import make_har
from .output import check_no_secret, write_private
from .redact import redact_text
from .report import markdown_report
from .sources import LoadedSession
from .vault import SecretVault

README = """\
npm-inspect support bundle
==========================
har.har          every CONNECT and registry request npm made, with the hop that answered (HAR 1.2;
                 open it in Chrome/Firefox DevTools or any HAR viewer; npm-inspect's facts are in _npmInspect)
report.md        the findings: who said no, why, and the npm config change that fixes it
npm-config.json  npm's effective config for the keys that matter and which file set them
versions.json    npm-inspect, npm, node, Python and OS versions

Secrets (proxy passwords, tokens, Authorization, cookies) are replaced by [redacted:xxxxxxxx]:
the same secret always gets the same fingerprint, so requests that used it can be matched.
"""


def write_bundle(session: LoadedSession, out: Path, vault: SecretVault | None = None) -> Path:
    """Write the zip owner-only; each member is first searched for the secrets in ``vault`` (refused on a hit)."""
    exchanges = session.store.exchanges()
    findings = diagnose_saved(exchanges, session.info, session.config)
    versions = {
        "npm-inspect": __version__,
        "recorded with npm-inspect": session.info.inspector_version,
        "npm": session.info.npm_version,
        "node": session.info.node_version,
        "python": sys.version.split()[0],
        "os": platform.platform(),
    }
    files = {
        "README.txt": README,
        "har.har": json.dumps(make_har(exchanges, session.info, session.config), indent=1, ensure_ascii=False),
        "report.md": markdown_report(session.info, exchanges, findings, run=last_run(exchanges, session.info)),
        "npm-config.json": json.dumps(session.config.to_dict() if session.config else {}, indent=2),
        "versions.json": json.dumps(versions, indent=2),
    }
    files["report.md"] = redact_text(files["report.md"])  # the rest is redacted already
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            check_no_secret(text, vault, f"the bundle {out} ({name})")
            archive.writestr(name, text)
    return write_private(out, buffer.getvalue())

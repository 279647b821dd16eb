"""``npm-inspect ca``: where npm-inspect's CA is, or a bundle npm can use with a running inspector."""

from __future__ import annotations

import argparse
import os


def cmd_ca(args: argparse.Namespace, npm_args: list[str]) -> int:
    from ..ca import ensure_ca, node_root_certificates, write_bundle
    from ..npmconfig import read_npm_config
    from ..paths import ca_dir

    cert = ensure_ca()
    if not args.bundle:
        print(cert)
        return 0
    raw = read_npm_config(env=dict(os.environ))
    user_trust = raw.ca_pems() or node_root_certificates()
    path = write_bundle(ca_dir(), "npm-bundle.pem", user_trust, cert.read_text())
    print(path)
    return 0

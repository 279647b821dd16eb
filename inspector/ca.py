"""npm-inspect's own CA (created once, owner-only) and the CA bundles handed to npm and mitmproxy.

mitmproxy creates its CA on first start; several instances sharing a confdir
race to create it, so we create it once here, before any proxy starts.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from .errors import CertificateError
from .output import write_private
from .paths import ca_dir, private_dir

CA_BASENAME = "mitmproxy"  # mitmproxy's tlsconfig addon loads <confdir>/mitmproxy-ca.pem
CA_COMMON_NAME = "npm-inspect CA"


def ensure_ca(confdir: Path | None = None) -> Path:
    """Create npm-inspect's CA in ``confdir`` if missing; return the CA certificate (PEM) path."""
    from mitmproxy.certs import CertStore

    confdir = private_dir(confdir or ca_dir())
    cert = confdir / f"{CA_BASENAME}-ca-cert.pem"
    try:
        if not (confdir / f"{CA_BASENAME}-ca.pem").exists():
            CertStore.create_store(confdir, CA_BASENAME, 2048, organization="npm-inspect", cn=CA_COMMON_NAME)
    except (OSError, ValueError) as e:
        raise CertificateError(f"cannot create npm-inspect's CA in {confdir}: {e}; check that the directory is writable") from None
    for secret in confdir.glob(f"{CA_BASENAME}-ca*.p12"):
        secret.chmod(0o600)
    (confdir / f"{CA_BASENAME}-ca.pem").chmod(0o600)
    if not cert.exists():
        raise CertificateError(f"npm-inspect's CA certificate is missing in {confdir}: delete that directory to recreate it")
    return cert


def node_root_certificates() -> str:
    """Node's bundled root CAs plus ``NODE_EXTRA_CA_CERTS`` — what npm trusts with no cafile/ca.

    Node writes them to a file, not to a pipe: node 22 exits before a pipe
    takes more than 128 KB (``node -p`` on a pipe cut the bundle mid-certificate,
    and mitmproxy then could not load it: every HTTPS request failed).
    """
    roots = ""
    with tempfile.TemporaryDirectory(prefix="npm-inspect-roots-") as tmp:
        target = Path(tmp) / "roots.pem"
        try:
            subprocess.run(
                ["node", "-e", "require('fs').writeFileSync(process.argv[1], require('tls').rootCertificates.join('\\n'))", str(target)],
                capture_output=True,
                timeout=20,
                check=True,
            )
            roots = target.read_text()
        except (OSError, subprocess.SubprocessError):
            roots = ""
    extra = os.environ.get("NODE_EXTRA_CA_CERTS")
    if extra:
        try:
            roots += "\n" + Path(extra).read_text()
        except OSError:
            pass
    return roots


def write_bundle(directory: Path, name: str, *pems: str) -> Path:
    """Concatenate PEM texts into ``directory/name`` (owner-only) and return its path."""
    text = "\n".join(p.strip() for p in pems if p and p.strip()) + "\n"
    return write_private(directory / name, text)


def temp_dir() -> Path:
    """A private temporary directory for one run's bundles."""
    return Path(tempfile.mkdtemp(prefix="npm-inspect-"))

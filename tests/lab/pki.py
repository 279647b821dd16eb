"""The lab's certificates come from the demo's PKI helpers (one implementation for both)."""

from inspector.lab.pki import CertFiles, make_ca, make_intermediate_ca, make_server_cert, write_mitmproxy_ca

__all__ = ["CertFiles", "make_ca", "make_intermediate_ca", "make_server_cert", "write_mitmproxy_ca"]

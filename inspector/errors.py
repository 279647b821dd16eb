"""npm-inspect's exceptions: one hierarchy, raised inside, turned into messages at the edge.

Only :mod:`inspector.cli` turns these into a one-line message and exit status 2.
Each message says what is wrong and what to do about it.
"""

from __future__ import annotations


class InspectorError(Exception):
    """Base class: something the user can fix; the message says how."""


class UsageError(InspectorError):
    """A command-line value or combination is wrong."""


class UpstreamUrlError(UsageError):
    """The upstream proxy URL cannot be used."""


class PortInUseError(InspectorError):
    """The port npm-inspect was asked to listen on is taken."""


class ProxyStartError(InspectorError):
    """The embedded mitmproxy could not start."""


class NpmNotFoundError(InspectorError):
    """``npm`` is not on PATH."""


class NpmConfigError(InspectorError):
    """npm's effective configuration could not be read."""


class SessionFileError(InspectorError):
    """A session, HAR or report file cannot be read or written."""


class CertificateError(InspectorError):
    """npm-inspect's CA or a CA bundle cannot be created or read."""


class StorageError(InspectorError):
    """A directory or file npm-inspect needs cannot be created or written."""


class SecretLeakError(InspectorError):
    """An output would contain a secret the session has seen; it is not written."""


class UnsupportedClientError(UsageError):
    """The command after ``--`` is not a package manager npm-inspect knows (npm, pnpm, yarn, bun)."""


class ClientNotFoundError(NpmNotFoundError):
    """The package manager named on the command line is not on PATH."""


class ClientConfigError(NpmConfigError):
    """A package manager's configuration files could not be read."""

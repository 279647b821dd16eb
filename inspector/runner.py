"""Run npm through the inspector without touching the user's ``.npmrc``.

The child npm gets the inspector as its proxy — a URL with this run's own
random credential (:class:`~inspector.proxy.ListenerCredential`) — and a CA
bundle (the user's own ``cafile``/``ca``, or Node's roots, plus npm-inspect's
CA) through ``npm_config_*`` variables in *its* environment only. Where npm's
command line itself sets ``--proxy``/``--https-proxy``/``--cafile``/``--ca``
(which would beat the environment), those flags are taken out of the child's
argv: a credential never appears on a command line, where ``ps`` shows it to
every user.

The upstream proxy is chosen the way npm chooses it: ``--upstream`` (or
``NPM_INSPECT_UPSTREAM``) first, then npm's ``https-proxy`` / ``proxy``
config, then ``HTTPS_PROXY`` (and, for an ``http://`` registry,
``HTTP_PROXY``). npm-inspect sends it exactly the credentials npm would have
sent (that URL's user and password, through mitmproxy's ``upstream_auth``), so
the corporate proxy sees the same login with and without npm-inspect, and a
wrong password still ends in the proxy's own 407.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from . import ca, redact
from .errors import NpmNotFoundError, UpstreamUrlError, UsageError
from .listener import LOOPBACK, ListenerCredential
from .npmconfig import NpmConfigSnapshot, RawNpmConfig, read_npm_config
from .npmoutcome import NpmOutcome, outcome_of_run
from .paths import ca_dir
from .proxy import InspectorProxy, ProxyConfig
from .redact import redact_argv
from .session import SessionInfo
from .upstream import UpstreamProxy, parse_upstream
from .vault import SecretVault

NPM_PROGRAMS = ("npm", "npx", "npm.cmd", "npx.cmd")
_REWRITTEN_FLAGS = ("proxy", "https-proxy", "cafile", "ca")


@dataclass
class RunRequest:
    """What the user asked for: ``npm-inspect run [options] -- npm ARGS…``."""

    argv: list[str]
    """The npm command line, program first (``["npm", "install", "lodash"]``). Raw: may hold secrets;
    everything shown or saved uses :func:`inspector.redact.redact_argv` of it."""
    upstream: str | None = None
    upstream_source: str = "--upstream"
    """Where ``upstream`` came from (``--upstream``, ``NPM_INSPECT_UPSTREAM``), for explanations."""
    upstream_password: str | None = field(default=None, repr=False)
    """The password for an upstream URL that names a user but none (from the environment or a prompt)."""
    decrypt: bool = True
    port: int = 0
    listen_host: str = LOOPBACK
    cwd: str | None = None
    env: dict[str, str] | None = None
    confdir: Path | None = None
    listener: ListenerCredential | None = None
    """The credential clients must present; a fresh random one per run when not given."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Applied to npm's environment last (``--verify-fix`` uses it for a temporary userconfig)."""


@dataclass
class Preparation:
    """Everything decided before the proxy starts; ``raw`` holds secrets and stays in memory."""

    request: RunRequest
    npm_path: str
    raw: RawNpmConfig
    snapshot: NpmConfigSnapshot
    upstream: UpstreamProxy | None
    upstream_source: str | None
    listener: ListenerCredential
    workdir: Path
    npm_bundle: Path
    proxy_config: ProxyConfig

    @property
    def upstream_display(self) -> str | None:
        return self.upstream.display if self.upstream else None


def check_argv(argv: list[str]) -> None:
    if not argv:
        raise UsageError("nothing to run after '--': write npm-inspect run -- npm install <package>")
    program = Path(argv[0]).name
    if program not in NPM_PROGRAMS:
        raise UsageError(
            f"npm-inspect runs npm, not {argv[0]!r}: write npm-inspect run -- npm {' '.join(argv[1:]) or 'install'}"
        )


def resolve_upstream(
    raw: RawNpmConfig, cli_upstream: str | None, *, source: str = "--upstream", password: str | None = None
) -> tuple[UpstreamProxy | None, str | None]:
    """(upstream with the credentials npm would send it, where it came from) — npm's own precedence.

    ``password`` fills in an upstream URL that names a user but no password (``NPM_INSPECT_UPSTREAM_PASSWORD``
    or a prompt), so the password need not be on a command line.
    """
    upstream, where = _choose_upstream(raw, cli_upstream, source)
    if upstream is not None and password is not None and upstream.username is not None and upstream.password is None:
        upstream = replace(upstream, password=password)
    return upstream, where


def _choose_upstream(raw: RawNpmConfig, cli_upstream: str | None, source: str) -> tuple[UpstreamProxy | None, str | None]:
    if cli_upstream:
        return parse_upstream(cli_upstream), source
    candidates: list[tuple[str | None, str]] = []
    for key in ("https-proxy", "proxy"):
        value, layer = raw.lookup(key)
        where = f"npm config {key}" + (f" ({layer.name}{' ' + layer.path if layer.path else ''})" if layer else "")
        candidates.append((value if isinstance(value, str) and value not in ("", "null", "false") else None, where))
    registry_scheme = urlsplit(raw.registry).scheme
    env_names = ["https_proxy"] + (["http_proxy", "proxy"] if registry_scheme == "http" else [])
    lowered = {k.lower(): v for k, v in raw.env.items()}
    for name in env_names:
        original = next((k for k in raw.env if k.lower() == name), name.upper())
        candidates.append((lowered.get(name) or None, f"environment {original}"))
    for value, where in candidates:
        if value:
            try:
                return parse_upstream(value), where
            except UpstreamUrlError as e:
                raise UpstreamUrlError(f"{e} (from {where})") from None
    return None, None


def prepare(request: RunRequest) -> Preparation:
    """Read npm's config, pick the upstream, build the CA bundles. Raises :class:`InspectorError` subclasses."""
    check_argv(request.argv)
    env = dict(os.environ if request.env is None else request.env)
    env.update(request.extra_env)
    program = request.argv[0]
    npm_path = shutil.which(program, path=env.get("PATH")) or (program if Path(program).exists() else None)
    if npm_path is None:
        raise NpmNotFoundError(f"{program} is not on PATH: install Node.js and npm, or add npm's directory to PATH")
    npm_for_config = shutil.which("npm", path=env.get("PATH")) or npm_path
    raw = read_npm_config(npm_for_config, cwd=request.cwd, env=env, npm_args=request.argv[1:])
    upstream, source = resolve_upstream(raw, request.upstream, source=request.upstream_source, password=request.upstream_password)

    confdir = request.confdir or ca_dir()
    inspector_ca = ca.ensure_ca(confdir)
    user_trust = raw.ca_pems() or ca.node_root_certificates()
    workdir = ca.temp_dir()
    try:
        upstream_trust, npm_bundle = write_bundles(workdir, user_trust, inspector_ca.read_text())
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    listener = request.listener or ListenerCredential.generate()
    proxy_config = ProxyConfig(
        confdir=confdir,
        listen_host=request.listen_host,
        port=request.port,
        upstream=upstream,
        decrypt=request.decrypt,
        upstream_trusted_ca=upstream_trust,
        ssl_insecure=not raw.strict_ssl,
        listener=listener,
    )
    return Preparation(
        request=request,
        npm_path=npm_path,
        raw=raw,
        snapshot=raw.snapshot(),
        upstream=upstream,
        upstream_source=source,
        listener=listener,
        workdir=workdir,
        npm_bundle=npm_bundle,
        proxy_config=proxy_config,
    )


def write_bundles(workdir: Path, user_trust: str, inspector_ca: str, version: int = 1) -> tuple[Path | None, Path]:
    """(what the inspector verifies registries with: npm's own CAs or Node's roots; what npm gets: those plus
    npm-inspect's CA), written owner-only into the session's private folder.

    A new ``version`` gets new file names: mitmproxy caches TLS contexts by the CA file's path.
    """
    suffix = "" if version == 1 else f"-{version}"
    upstream_trust = ca.write_bundle(workdir, f"upstream-trust{suffix}.pem", user_trust) if user_trust.strip() else None
    return upstream_trust, ca.write_bundle(workdir, f"npm-cafile{suffix}.pem", user_trust, inspector_ca)


def inspector_url_for_npm(prep: Preparation, proxy: InspectorProxy) -> str:
    """The proxy URL npm gets: the inspector, with this run's credential (environment only, never argv)."""
    return prep.listener.url(proxy.host, proxy.port)


def child_command(prep: Preparation, proxy: InspectorProxy, *, extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """npm's argv and environment for a run through ``proxy``; ``extra_env`` (a fix's temporary config) goes in
    before the proxy and CA settings, which stay the inspector's."""
    url = inspector_url_for_npm(prep, proxy)
    env = dict(os.environ if prep.request.env is None else prep.request.env)
    env.update(prep.request.extra_env)
    env.update(extra_env or {})
    for key in list(env):
        if key.lower() in ("npm_config_proxy", "npm_config_https_proxy", "npm_config_cafile", "npm_config_ca"):
            del env[key]
    env["npm_config_proxy"] = url
    env["npm_config_https_proxy"] = url
    env["npm_config_cafile"] = str(prep.npm_bundle)
    argv = [prep.npm_path, *strip_flags(prep.request.argv[1:])]
    return argv, env


def strip_flags(args: list[str]) -> list[str]:
    """npm's argv without ``--proxy``/``--https-proxy``/``--cafile``/``--ca``: the environment carries them.

    Command-line config beats ``npm_config_*``, so these flags would send npm around the inspector; their
    values were already read (they are npm's "cli" config layer) to choose the upstream and the CA bundle.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if arg == "--":
            out.extend(args[i:])
            break
        if name in _REWRITTEN_FLAGS:
            if "=" not in arg and i + 1 < len(args) and not args[i + 1].startswith("-"):
                i += 1  # skip the separate value
        else:
            out.append(arg)
        i += 1
    return out


def remember_secrets(vault: SecretVault, prep: Preparation) -> None:
    """Tell the vault every secret this run holds outside traffic: for the leak check of every output."""
    for secret in (
        prep.listener.password,
        prep.upstream.password if prep.upstream else None,
        *redact.argv_secrets(prep.request.argv),
        *prep.raw.secrets(),
    ):
        if secret:
            vault.remember(secret)


def session_info(prep: Preparation, proxy: InspectorProxy) -> SessionInfo:
    from . import __version__

    return SessionInfo(
        npm_argv=redact_argv(prep.request.argv),
        upstream=prep.upstream_display,
        mode=proxy.mode,
        listen=f"{proxy.host}:{proxy.port}",
        npm_version=prep.raw.npm_version,
        node_version=prep.raw.node_version,
        inspector_version=__version__,
        started=time.time(),
        upstream_source=prep.upstream_source,
    )


def npm_outcome(prep: Preparation, proxy: InspectorProxy, exit_code: int, started: float, output: str | None) -> NpmOutcome:
    """npm's own words about this run, read once npm has ended (see :func:`inspector.npmoutcome.outcome_of_run`)."""
    env = dict(os.environ if prep.request.env is None else prep.request.env)
    env.update(prep.request.extra_env)
    return outcome_of_run(
        exit_code,
        output=output,
        effective=prep.raw.effective,
        project=Path(prep.raw.local_prefix or prep.request.cwd or os.getcwd()),
        started=started,
        documents=proxy.capture.packuments.versions,
        npm=prep.npm_path,
        env=env,
        cwd=prep.request.cwd,
    )


def run_child(argv: list[str], env: dict[str, str], cwd: str | None, capture_output: Callable[[str], None] | None) -> int:
    """Run npm with our stdio, or hand its output on as it comes (chunks, not lines: prompts have no newline)."""
    if capture_output is None:
        try:
            return subprocess.run(argv, env=env, cwd=cwd).returncode
        except KeyboardInterrupt:
            return 130
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        while chunk := process.stdout.read1(65536):
            capture_output(decoder.decode(chunk))
    except KeyboardInterrupt:  # Ctrl-C reached npm too: report what happened until then (a hang is worth a report)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    capture_output(decoder.decode(b"", final=True))
    return process.wait()

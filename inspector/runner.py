"""Run npm — or pnpm, yarn, bun — through the inspector without touching the user's config files.

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

Other package managers go through their adapter (:mod:`inspector.clients`): it
detects the tool (and yarn's flavour), reads the tool's own config into npm's
key names (so the upstream choice and the diagnosis are the same code), builds
the CA bundle the tool needs, and hands the tool the inspector the way that
tool reads a proxy (``pnpm_config_*``, ``YARN_*``, ``HTTPS_PROXY``) — always in
its environment, never on a command line.
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

from . import ca, redact, timings
from .clients import ClientAdapter, Detection, Injection, RawClientConfig, adapter_for, detect, program_family
from .clients.common import strip_flags as strip_tool_flags
from .diagnose.tools import TOOL_NAMES
from .errors import UpstreamUrlError, UsageError
from .listener import LOOPBACK, ListenerCredential
from .npmconfig import NpmConfigSnapshot, RawNpmConfig
from .npmoutcome import NpmOutcome, outcome_of_run
from .paths import ca_dir
from .proxy import InspectorProxy, ProxyConfig
from .redact import redact_argv
from .session import SessionInfo
from .upstream import UpstreamProxy, parse_upstream
from .vault import SecretVault

_REWRITTEN_FLAGS = ("proxy", "https-proxy", "cafile", "ca")


@dataclass
class RunRequest:
    """What the user asked for: ``npm-inspect run [options] -- npm ARGS…``."""

    argv: list[str]
    """The command line, program first (``["npm", "install", "lodash"]``, ``["pnpm", "install"]``). Raw: may hold secrets;
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
    """Everything decided before the proxy starts; ``raw`` and ``client`` hold secrets and stay in memory."""

    request: RunRequest
    npm_path: str
    """The program that runs (npm, pnpm, yarn or bun), resolved on the child's PATH."""
    raw: RawNpmConfig
    """The tool's config in npm's key names (``client.raw``) as of the last plain run."""
    snapshot: NpmConfigSnapshot
    upstream: UpstreamProxy | None
    upstream_source: str | None
    listener: ListenerCredential
    workdir: Path
    npm_bundle: Path
    """The CA bundle the tool gets (what it must keep trusting, plus npm-inspect's CA)."""
    proxy_config: ProxyConfig
    detection: Detection
    adapter: ClientAdapter
    client: RawClientConfig
    injections: list[Injection] = field(default_factory=list)
    """Injections handed out by :func:`child_command` (callers without a ``finally``): cleaned up with the workdir."""

    @property
    def upstream_display(self) -> str | None:
        return self.upstream.display if self.upstream else None

    @property
    def tool(self) -> str:
        return self.detection.tool


def check_argv(argv: list[str]) -> None:
    """A command npm-inspect can run (npm, pnpm, yarn or bun), checked before anything starts."""
    if not argv:
        raise UsageError("nothing to run after '--': write npm-inspect run -- npm install <package>")
    program_family(argv[0])


def base_env(request: RunRequest, extra_env: dict[str, str] | None = None, unset_env: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment the tool would have without npm-inspect (plus a fix's temporary settings)."""
    env = dict(os.environ if request.env is None else request.env)
    env.update(request.extra_env)
    unset = {name.lower() for name in unset_env}
    env = {k: v for k, v in env.items() if k.lower() not in unset}
    env.update(extra_env or {})
    return env


def resolve_upstream(
    raw: RawNpmConfig,
    cli_upstream: str | None,
    *,
    source: str = "--upstream",
    password: str | None = None,
    tool: str = "npm",
    origins: dict[str, str] | None = None,
) -> tuple[UpstreamProxy | None, str | None]:
    """(upstream with the credentials the tool would send it, where it came from) — the tool's own precedence.

    ``raw`` is the tool's config in npm's key names (an adapter's ``RawClientConfig.raw``); ``origins`` (the
    adapter's, per npm key) names the tool's own setting and file for explanations. ``password`` fills in an
    upstream URL that names a user but no password (``NPM_INSPECT_UPSTREAM_PASSWORD`` or a prompt), so the
    password need not be on a command line.
    """
    upstream, where = _choose_upstream(raw, cli_upstream, source, tool, origins or {})
    if upstream is not None and password is not None and upstream.username is not None and upstream.password is None:
        upstream = replace(upstream, password=password)
    return upstream, where


ENV_FALLBACK = {"yarn-classic": ["https_proxy", "http_proxy"], "yarn-berry": []}
"""The proxy variables a tool falls back on for an https registry (measured): yarn 1 also takes HTTP_PROXY;
yarn berry reads none (its adapter already left them out); npm, pnpm and bun read HTTPS_PROXY only."""


def _where(key: str, layer, tool: str, origins: dict[str, str]) -> str:
    """``npm config https-proxy (user /home/u/.npmrc)``; for other tools, their own setting and file."""
    if tool == "npm" or key not in origins:
        return f"npm config {key}" + (f" ({layer.name}{' ' + layer.path if layer.path else ''})" if layer else "")
    where, _, native = origins[key].rpartition(": ")
    if where in ("environment", "command line"):
        return f"{where} {native} ({TOOL_NAMES.get(tool, tool)})"
    return f"{TOOL_NAMES.get(tool, tool)} {native} ({where})"


def _choose_upstream(
    raw: RawNpmConfig, cli_upstream: str | None, source: str, tool: str, origins: dict[str, str]
) -> tuple[UpstreamProxy | None, str | None]:
    if cli_upstream:
        return parse_upstream(cli_upstream), source
    candidates: list[tuple[str | None, str]] = []
    for key in ("https-proxy", "proxy"):
        value, layer = raw.lookup(key)
        candidates.append((value if isinstance(value, str) and value not in ("", "null", "false") else None, _where(key, layer, tool, origins)))
    registry_scheme = urlsplit(raw.registry).scheme
    env_names = list(ENV_FALLBACK.get(tool, ["https_proxy"]))
    if registry_scheme == "http" and tool != "yarn-berry":
        env_names += [n for n in ("http_proxy", "proxy") if n not in env_names]
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


def read_client_config(
    request: RunRequest, detection: Detection, adapter: ClientAdapter, env: dict[str, str], argv: list[str] | None = None
) -> RawClientConfig:
    """The tool's effective config for one run (``env``/``argv``: a fix's temporary copy, or the user's own)."""
    config = adapter.read_config(detection, list(argv or request.argv), cwd=request.cwd or os.getcwd(), env=env)
    if config.version is None and detection.version is not None:
        config.version = detection.version
    return config


def upstream_for(request: RunRequest, config: RawClientConfig, *, ignore_cli: bool = False) -> tuple[UpstreamProxy | None, str | None]:
    """The corporate proxy the tool would use with ``config`` (``--upstream`` first unless ``ignore_cli``)."""
    return resolve_upstream(
        config.raw,
        None if ignore_cli else request.upstream,
        source=request.upstream_source,
        password=request.upstream_password,
        tool=config.tool,
        origins=config.origins,
    )


def trust_of(adapter: ClientAdapter, config: RawClientConfig) -> tuple[str, str, bool]:
    """(what the inspector verifies registries with, what the tool's bundle keeps besides npm-inspect's CA, strict-ssl).

    The inspector verifies the way the tool would: its ``cafile``/``ca`` (npm's key names), or Node's roots.
    """
    return config.raw.ca_pems() or ca.node_root_certificates(), adapter.trust_pems(config), config.raw.strict_ssl


def prepare(request: RunRequest) -> Preparation:
    """Detect the tool, read its config, pick the upstream, build the CA bundles. Raises :class:`InspectorError` subclasses."""
    check_argv(request.argv)
    env = base_env(request)
    npm_family = program_family(request.argv[0]) == "npm"
    detection = detect(request.argv, request.cwd or os.getcwd(), env, ask_version=not npm_family)  # npm: its config says
    adapter = adapter_for(detection.tool)
    client = read_client_config(request, detection, adapter, env)
    if detection.version is None and client.version is not None:
        detection = replace(detection, version=client.version)
    raw = client.raw
    upstream, source = upstream_for(request, client)
    timings.mark("npm-config")

    confdir = request.confdir or ca_dir()
    inspector_ca = ca.ensure_ca(confdir)
    user_trust, client_trust, strict = trust_of(adapter, client)
    workdir = ca.temp_dir()
    try:
        upstream_trust, npm_bundle = write_bundles(workdir, user_trust, inspector_ca.read_text(), client_trust=client_trust)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    timings.mark("ca-bundle")

    listener = request.listener or ListenerCredential.generate()
    proxy_config = ProxyConfig(
        confdir=confdir,
        listen_host=request.listen_host,
        port=request.port,
        upstream=upstream,
        decrypt=request.decrypt,
        upstream_trusted_ca=upstream_trust,
        ssl_insecure=not strict,
        listener=listener,
    )
    return Preparation(
        request=request,
        npm_path=detection.program,
        raw=raw,
        snapshot=raw.snapshot(),
        upstream=upstream,
        upstream_source=source,
        listener=listener,
        workdir=workdir,
        npm_bundle=npm_bundle,
        proxy_config=proxy_config,
        detection=detection,
        adapter=adapter,
        client=client,
    )


def write_bundles(
    workdir: Path, user_trust: str, inspector_ca: str, version: int = 1, *, client_trust: str | None = None
) -> tuple[Path | None, Path]:
    """(what the inspector verifies registries with: the tool's own CAs or Node's roots; what the tool gets:
    ``client_trust`` — by default the same CAs — plus npm-inspect's CA), written owner-only into the session's
    private folder. pnpm and bun without a cafile *add* the bundle to their roots, so their ``client_trust``
    is only what ``NODE_EXTRA_CA_CERTS`` held (see each adapter's ``trust_pems``).

    A new ``version`` gets new file names: mitmproxy caches TLS contexts by the CA file's path.
    """
    suffix = "" if version == 1 else f"-{version}"
    upstream_trust = ca.write_bundle(workdir, f"upstream-trust{suffix}.pem", user_trust) if user_trust.strip() else None
    client = user_trust if client_trust is None else client_trust
    return upstream_trust, ca.write_bundle(workdir, f"npm-cafile{suffix}.pem", client, inspector_ca)


def inspector_url_for_npm(prep: Preparation, proxy: InspectorProxy) -> str:
    """The proxy URL the tool gets: the inspector, with this run's credential (environment only, never argv)."""
    return prep.listener.url(proxy.host, proxy.port)


def client_injection(
    prep: Preparation,
    proxy: InspectorProxy,
    *,
    config: RawClientConfig | None = None,
    env: dict[str, str] | None = None,
    argv: list[str] | None = None,
) -> Injection:
    """How one run of the tool goes through ``proxy``: its adapter's injection over ``env`` (default: the user's
    environment; a fix's temporary settings go in first, the proxy and CA stay the inspector's).

    The proxy URL (with the run's credential) is only ever in ``Injection.set_env``. Call ``cleanup()`` after the run.
    """
    return prep.adapter.inject(
        prep.detection,
        list(argv or prep.request.argv),
        proxy_url=inspector_url_for_npm(prep, proxy),
        ca_bundle=prep.npm_bundle,
        config=config or prep.client,
        env=base_env(prep.request) if env is None else env,
    )


def child_command(prep: Preparation, proxy: InspectorProxy, *, extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The tool's argv and environment for a run through ``proxy`` (scripts and benches; the lifecycle uses
    :func:`client_injection`). ``extra_env`` (a fix's temporary config) goes in before the proxy and CA settings,
    which stay the inspector's. Temporary files, if the adapter made any, go with the session's workdir."""
    env = base_env(prep.request, extra_env)
    injection = client_injection(prep, proxy, env=env)
    prep.injections.append(injection)
    return injection.argv, injection.child_env(env)


def strip_flags(args: list[str]) -> list[str]:
    """npm's argv without ``--proxy``/``--https-proxy``/``--cafile``/``--ca``: the environment carries them.

    Command-line config beats ``npm_config_*``, so these flags would send npm around the inspector; their
    values were already read (they are npm's "cli" config layer) to choose the upstream and the CA bundle.
    (Each adapter strips its own tool's flags the same way.)
    """
    return strip_tool_flags(args, _REWRITTEN_FLAGS)


def remember_secrets(vault: SecretVault, prep: Preparation) -> None:
    """Tell the vault every secret this run holds outside traffic: for the leak check of every output.

    The tool's config secrets, and the proxy variables' passwords even where the tool ignores them (yarn berry):
    the child still has them in its environment.
    """
    env_proxies = RawNpmConfig(layers=[], effective={}, env=base_env(prep.request)).secrets()
    for secret in (
        prep.listener.password,
        prep.upstream.password if prep.upstream else None,
        *redact.argv_secrets(prep.request.argv),
        *prep.client.secrets(),
        *env_proxies,
    ):
        if secret:
            vault.remember(secret)


def session_info(prep: Preparation, proxy: InspectorProxy) -> SessionInfo:
    from . import __version__

    detection = prep.detection
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
        tool=detection.tool,
        tool_version=detection.version,
        tool_display=detection.display,
        tool_notes=[redact.redact_text(n) for n in (*detection.warnings, *prep.client.notes)],
    )


def npm_outcome(prep: Preparation, proxy: InspectorProxy, exit_code: int, started: float, output: str | None) -> NpmOutcome:
    """The tool's own words about this run, read once it has ended (see :func:`inspector.npmoutcome.outcome_of_run`)."""
    env = base_env(prep.request)
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
        tool=prep.tool,
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

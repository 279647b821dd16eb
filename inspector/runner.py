"""Run npm through the inspector without touching the user's ``.npmrc``.

The child npm gets the inspector as its proxy and a CA bundle (the user's own
``cafile``/``ca`` — or Node's roots — plus npm-inspect's CA) through
``npm_config_*`` variables in *its* environment only. Where npm's command
line itself sets ``--proxy``/``--https-proxy``/``--cafile``/``--ca`` (which
beat the environment), those flags are rewritten in the child's argv.

The upstream proxy is chosen the way npm chooses it: ``--upstream`` first,
then npm's ``https-proxy`` / ``proxy`` config, then ``HTTPS_PROXY`` (and,
for an ``http://`` registry, ``HTTP_PROXY``). When npm's own proxy URL carries
credentials, npm keeps sending them (to us) and we forward them, so a wrong
password stays npm's wrong password.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import ca
from .errors import NpmNotFoundError, UpstreamUrlError, UsageError
from .npmconfig import NpmConfigSnapshot, RawNpmConfig, read_npm_config
from .npmoutcome import NpmOutcome, OutputTail, outcome_of_run
from .paths import ca_dir
from .proxy import LOOPBACK, InspectorProxy, ProxyConfig
from .session import SessionInfo, SessionStore
from .upstream import UpstreamProxy, parse_upstream
from .vault import SecretVault

NPM_PROGRAMS = ("npm", "npx", "npm.cmd", "npx.cmd")
_REWRITTEN_FLAGS = ("proxy", "https-proxy", "cafile", "ca")


@dataclass
class RunRequest:
    """What the user asked for: ``npm-inspect run [options] -- npm ARGS…``."""

    argv: list[str]
    """The npm command line, program first (``["npm", "install", "lodash"]``)."""
    upstream: str | None = None
    decrypt: bool = True
    port: int = 0
    listen_host: str = LOOPBACK
    cwd: str | None = None
    env: dict[str, str] | None = None
    confdir: Path | None = None
    proxyauth: str | None = None
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
    npm_userinfo: str | None
    """Raw ``user:password`` from npm's own proxy URL, handed back to npm for the inspector URL."""
    workdir: Path
    npm_bundle: Path
    proxy_config: ProxyConfig

    @property
    def upstream_display(self) -> str | None:
        return self.upstream.display if self.upstream else None


@dataclass
class RunResult:
    exit_code: int
    store: SessionStore
    info: SessionInfo
    snapshot: NpmConfigSnapshot
    outcome: NpmOutcome | None = None


def check_argv(argv: list[str]) -> None:
    if not argv:
        raise UsageError("nothing to run after '--': write npm-inspect run -- npm install <package>")
    program = Path(argv[0]).name
    if program not in NPM_PROGRAMS:
        raise UsageError(
            f"npm-inspect runs npm, not {argv[0]!r}: write npm-inspect run -- npm {' '.join(argv[1:]) or 'install'}"
        )


def resolve_upstream(raw: RawNpmConfig, cli_upstream: str | None) -> tuple[UpstreamProxy | None, str | None, str | None]:
    """(upstream, where it came from, npm's own userinfo to keep sending) — npm's own precedence."""
    if cli_upstream:
        return parse_upstream(cli_upstream), "--upstream", None
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
                upstream = parse_upstream(value)
            except UpstreamUrlError as e:
                raise UpstreamUrlError(f"{e} (from {where})") from None
            userinfo = urlsplit(value).netloc.rpartition("@")[0] or None
            return upstream, where, userinfo
    return None, None, None


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
    upstream, source, userinfo = resolve_upstream(raw, request.upstream)

    confdir = request.confdir or ca_dir()
    inspector_ca = ca.ensure_ca(confdir)
    workdir = ca.temp_dir()
    user_trust = raw.ca_pems() or ca.node_root_certificates()
    upstream_trust = ca.write_bundle(workdir, "upstream-trust.pem", user_trust) if user_trust.strip() else None
    npm_bundle = ca.write_bundle(workdir, "npm-cafile.pem", user_trust, inspector_ca.read_text())

    proxy_config = ProxyConfig(
        confdir=confdir,
        listen_host=request.listen_host,
        port=request.port,
        upstream=upstream,
        forward_upstream_credentials=source == "--upstream",
        decrypt=request.decrypt,
        upstream_trusted_ca=upstream_trust,
        ssl_insecure=not raw.strict_ssl,
        proxyauth=request.proxyauth,
    )
    return Preparation(
        request=request,
        npm_path=npm_path,
        raw=raw,
        snapshot=raw.snapshot(),
        upstream=upstream,
        upstream_source=source,
        npm_userinfo=userinfo if source != "--upstream" else None,
        workdir=workdir,
        npm_bundle=npm_bundle,
        proxy_config=proxy_config,
    )


def inspector_url_for_npm(prep: Preparation, proxy: InspectorProxy) -> str:
    """The proxy URL npm gets: the inspector, with npm's own proxy credentials if it had any."""
    userinfo = prep.npm_userinfo
    if prep.request.proxyauth and not userinfo:
        from urllib.parse import quote

        user, _, password = prep.request.proxyauth.partition(":")
        userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    host = proxy.host if proxy.host not in ("0.0.0.0", "::", "") else LOOPBACK
    host = f"[{host}]" if ":" in host else host
    return f"http://{userinfo + '@' if userinfo else ''}{host}:{proxy.port}"


def child_command(prep: Preparation, proxy: InspectorProxy) -> tuple[list[str], dict[str, str]]:
    """npm's argv and environment for a run through ``proxy``."""
    url = inspector_url_for_npm(prep, proxy)
    env = dict(os.environ if prep.request.env is None else prep.request.env)
    env.update(prep.request.extra_env)
    for key in list(env):
        if key.lower() in ("npm_config_proxy", "npm_config_https_proxy", "npm_config_cafile", "npm_config_ca"):
            del env[key]
    env["npm_config_proxy"] = url
    env["npm_config_https_proxy"] = url
    env["npm_config_cafile"] = str(prep.npm_bundle)
    argv = [prep.npm_path, *rewrite_flags(prep.request.argv[1:], url, str(prep.npm_bundle))]
    return argv, env


def rewrite_flags(args: list[str], proxy_url: str, cafile: str) -> list[str]:
    """Point npm's own ``--proxy``/``--https-proxy``/``--cafile`` flags at the inspector; drop ``--ca``."""
    values = {"proxy": proxy_url, "https-proxy": proxy_url, "cafile": cafile}
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
            if name in values:
                out.append(f"--{name}={values[name]}")
        else:
            out.append(arg)
        i += 1
    return out


def session_info(prep: Preparation, proxy: InspectorProxy) -> SessionInfo:
    from . import __version__

    return SessionInfo(
        npm_argv=list(prep.request.argv),
        upstream=prep.upstream_display,
        mode=proxy.mode,
        listen=f"{proxy.host}:{proxy.port}",
        npm_version=prep.raw.npm_version,
        node_version=prep.raw.node_version,
        inspector_version=__version__,
        started=time.time(),
        upstream_source=prep.upstream_source,
    )


def run(
    request: RunRequest,
    store: SessionStore | None = None,
    *,
    capture_output: Callable[[str], None] | None = None,
    on_started: Callable[[SessionInfo, NpmConfigSnapshot], None] | None = None,
    vault: SecretVault | None = None,
) -> RunResult:
    """Prepare, start the inspector, run npm to completion, settle and stop. Returns npm's exit status."""
    prep = prepare(request)
    store = store if store is not None else SessionStore()
    proxy = InspectorProxy(prep.proxy_config, store.add, vault)
    try:
        proxy.start()
        info = session_info(prep, proxy)
        if on_started is not None:
            on_started(info, prep.snapshot)
        argv, env = child_command(prep, proxy)
        tail = OutputTail(capture_output) if capture_output is not None else None
        npm_started = time.time()
        exit_code = _run_child(argv, env, request.cwd, tail)
        proxy.settle()
        outcome = npm_outcome(prep, proxy, exit_code, npm_started, tail.text() if tail else None)
    finally:
        proxy.stop()
        shutil.rmtree(prep.workdir, ignore_errors=True)
    info.npm_exit = exit_code
    info.npm_outcome = outcome.to_dict()
    return RunResult(exit_code=exit_code, store=store, info=info, snapshot=prep.snapshot, outcome=outcome)


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


def _run_child(argv: list[str], env: dict[str, str], cwd: str | None, capture_output: Callable[[str], None] | None) -> int:
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

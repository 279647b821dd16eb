"""One session lifecycle for ``run``, the dashboard and the demo: prepare → proxy → runs of npm → stop.

:class:`SessionLifecycle` is the one owner of a live session:

- **prepare**: which tool runs (npm, pnpm, yarn classic or berry, bun: :func:`inspector.clients.detect`), its
  effective config read by its adapter, the upstream proxy with the credentials the tool would send it, the CA
  bundles, and this session's own listener credential (:mod:`inspector.runner`);
- **the proxy** (:class:`~inspector.proxy.InspectorProxy`), whose records go to the store tagged with the
  current run;
- **runs of the tool**: the first, the dashboard's ``R``, and each fix tried on a temporary copy of the tool's
  config (``x``, ``run --verify-fix``, the demo's fix key; the adapter's ``apply_to_copy``) — all through the
  same inspector, numbered (:class:`~inspector.session.RunRecord`), each with the tool's own words at its end.
  Each run gets the adapter's injection (the proxy URL with the run's credential in the environment only),
  removed when the run ends;
- **the diagnosis cadence** (:class:`~inspector.diagnoser.Diagnoser`): findings for the current run, saved
  attachments, findings written to the journal, hop counters;
- **the journal**, the in-memory secret vault, and **stop** (npm, proxy, temporary files).

Consumers subscribe and draw: the dashboard listens to the diagnoser, the headless report asks once at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import ca, timings
from .clients import ClientAdapter, Injection, RawClientConfig
from .diagnoser import Diagnoser, Diagnosis, RunInputs
from .journal import JournalWriter
from .npmconfig import NpmConfigSnapshot, RawNpmConfig
from .npmoutcome import NpmOutcome, OutputTail
from .proxy import InspectorProxy
from .proxy import preload as preload_proxy
from .redact import redact_argv, redact_text
from .runner import (
    Preparation,
    RunRequest,
    base_env,
    client_injection,
    npm_outcome,
    prepare,
    read_client_config,
    remember_secrets,
    run_child,
    session_info,
    trust_of,
    upstream_for,
    write_bundles,
)
from .session import RunRecord, SessionInfo, SessionStore
from .vault import SecretVault

if TYPE_CHECKING:  # fixes (and the client writers under it) load when a fix is tried, not for every run
    from .fixes import FixTrial

logger = logging.getLogger(__name__)


@dataclass
class PointNpm:
    """How to send npm through a running inspector by hand (the URL holds this session's credential)."""

    once: str
    """One npm command with the settings as shell assignments (environment, not argv)."""
    env: str
    """``export …`` for every npm started from this shell."""


class SessionLifecycle:
    """A live session. :meth:`start` (blocking: call it off a UI loop), runs, :meth:`stop` (idempotent)."""

    def __init__(
        self,
        request: RunRequest,
        store: SessionStore | None = None,
        *,
        vault: SecretVault | None = None,
        attachments_dir: Path | None = None,
    ) -> None:
        self.request = request
        self.store = store if store is not None else SessionStore()
        self.vault = vault if vault is not None else SecretVault(limit=4096)
        """Every secret of the session, in memory only: the reveal key, and the leak check of every output."""
        self.prep: Preparation | None = None
        self.proxy: InspectorProxy | None = None
        self.info = SessionInfo(
            npm_argv=redact_argv(request.argv) if self.has_npm_command else [],
            mode="decrypt" if request.decrypt else "metadata-only",
        )
        self.journal: JournalWriter | None = None
        self.npm_process: asyncio.subprocess.Process | None = None
        self.npm_state = "not started"
        self._outcomes: dict[int, NpmOutcome] = {}
        self._trust: tuple[str, bool, str | None] | None = None
        """What the proxy's trust was built from (the tool's CAs, strict-ssl, NODE_EXTRA_CA_CERTS): a tried fix may change it."""
        self._injection: Injection | None = None
        self._configs: dict[int, NpmConfigSnapshot] = {}
        self.diagnoser = Diagnoser(self.store, self._run_inputs, attachments_dir=attachments_dir)

    # -- what the session is --------------------------------------------------------------------------

    @property
    def has_npm_command(self) -> bool:
        return len(self.request.argv) > 1

    @property
    def raw(self) -> RawNpmConfig:
        """The user's own config (npm's key names) with raw values (secrets), as of the last plain run: never shown."""
        assert self.prep is not None, "start() first"
        return self.prep.raw

    @property
    def client(self) -> RawClientConfig:
        """The tool's own config as its adapter read it (secrets), as of the last plain run: for fixes, never shown."""
        assert self.prep is not None, "start() first"
        return self.prep.client

    @property
    def adapter(self) -> ClientAdapter:
        assert self.prep is not None, "start() first"
        return self.prep.adapter

    @property
    def tool(self) -> str:
        return self.prep.tool if self.prep is not None else self.info.tool

    @property
    def argv(self) -> list[str]:
        """The command as the user gave it (raw: may hold secrets)."""
        return list(self.request.argv)

    def base_env(self) -> dict[str, str]:
        """The tool's environment without npm-inspect (what a fix's temporary copy starts from)."""
        return base_env(self.request)

    @property
    def snapshot(self) -> NpmConfigSnapshot:
        """The redacted config the current run saw (a fix's run sees its temporary copy)."""
        return self._configs.get(self.current_run) or (self.prep.snapshot if self.prep else NpmConfigSnapshot())

    @property
    def current_run(self) -> int:
        return self.info.runs[-1].number if self.info.runs else 1

    @property
    def runs(self) -> list[RunRecord]:
        return self.info.runs

    @property
    def running(self) -> bool:
        return self.npm_state == "running"

    def _run_inputs(self, run: int | None = None) -> RunInputs:
        run = self.current_run if run is None else run
        config = self._configs.get(run) or (self.prep.snapshot if self.prep else NpmConfigSnapshot())
        upstream = self.prep.upstream_source if self.prep else None
        return RunInputs(run, config, self._outcomes.get(run), upstream, self.tool)

    # -- start and stop -----------------------------------------------------------------------------------

    def start(self) -> "SessionLifecycle":
        """Read npm's config, start the proxy (raises :class:`~inspector.errors.InspectorError` subclasses)."""
        # mitmproxy's imports run while npm's config is read (child processes): the two overlap
        preload_proxy()
        self.prep = prepare(self.request)
        remember_secrets(self.vault, self.prep)
        try:
            self.proxy = InspectorProxy(self.prep.proxy_config, self.store.add_live, self.vault).start()
        except BaseException:
            self._remove_workdir()
            raise
        timings.mark("proxy-start")
        npm_argv = self.info.npm_argv
        self.info = session_info(self.prep, self.proxy)
        self.info.npm_argv = npm_argv
        raw = self.prep.raw
        self._trust = (raw.ca_pems() or "", raw.strict_ssl, raw.env.get("NODE_EXTRA_CA_CERTS"))
        return self

    def attach_journal(self, journal: JournalWriter) -> JournalWriter:
        """Write the session (records, runs, findings) to ``journal`` from now on."""
        self.journal = journal
        self.diagnoser.journal = journal
        return journal

    def stop(self) -> None:
        """Stop the diagnosis, the proxy, and remove the temporary CA bundle (idempotent; npm: :meth:`stop_npm`)."""
        self.diagnoser.stop()
        if self.proxy is not None:
            self.proxy.settle()
            self.proxy.stop()
            self.proxy = None
        self._remove_workdir()
        if self.journal is not None:
            self.journal.update_info(self.info)

    def _remove_workdir(self) -> None:
        self._end_injection()
        if self.prep is not None:
            for injection in self.prep.injections:
                injection.cleanup()
            shutil.rmtree(self.prep.workdir, ignore_errors=True)

    def _end_injection(self) -> None:
        if self._injection is not None:
            self._injection.cleanup()
            self._injection = None

    def reveal(self, fingerprint: str) -> str | None:
        """The secret behind a fingerprint, if it passed through this session."""
        return self.vault.get(fingerprint)

    def point_npm(self) -> PointNpm:
        """The exact settings that point the tool at this inspector: environment only (``ps`` shows no credential)."""
        assert self.prep is not None and self.proxy is not None
        program = Path(self.request.argv[0]).name
        injection = client_injection(self.prep, self.proxy, argv=[program, "install"])
        try:
            assignments = " ".join(f"{name}={value}" for name, value in injection.set_env.items())
            command = shlex.join([program, *injection.argv[1:]])
        finally:
            injection.cleanup()
        return PointNpm(f"{assignments} {command}", f"export {assignments}")

    # -- runs ----------------------------------------------------------------------------------------------

    def _begin(self, fix: FixTrial | None) -> tuple[RunRecord, list[str], dict[str, str]]:
        assert self.prep is not None and self.proxy is not None, "start() first"
        if self.running:
            raise RuntimeError("npm is still running")
        number = len(self.info.runs) + 1 if self.info.runs else 1
        env = base_env(self.request, fix.env, fix.unset_env) if fix is not None else base_env(self.request)
        argv = list(fix.argv) if fix is not None and fix.argv else list(self.request.argv)
        config = self.prep.client
        if fix is not None or number > 1:
            config = self._reconfigure(env, argv, fix=fix is not None, ignore_cli_upstream=fix is not None and fix.touches_proxy)
            self._configs[number] = config.raw.snapshot()
        record = RunRecord(number, list(self.info.npm_argv), fix.label if fix else None, started=time.time())
        self.info.runs.append(record)
        self.store.current_run = number
        self.npm_state = "running"
        self._end_injection()
        self._injection = injection = client_injection(self.prep, self.proxy, config=config, env=env, argv=argv)
        for note in injection.notes:
            if redact_text(note) not in self.info.tool_notes:
                logger.warning("%s", note)
                self.info.tool_notes.append(redact_text(note))
        self.diagnoser.poke()
        return record, injection.argv, injection.child_env(env)

    def _reconfigure(self, env: dict[str, str], argv: list[str], *, fix: bool, ignore_cli_upstream: bool) -> RawClientConfig:
        """The tool's config as this run will see it (a fix's temporary copy); the proxy's upstream and trust follow it.

        A fix that sets ``https-proxy`` with a login changes what the tool would send the corporate proxy: the
        inspector then sends that (``upstream_auth``), or the fix could never be proven.
        """
        assert self.prep is not None and self.proxy is not None
        prep = self.prep
        config = read_client_config(self.request, prep.detection, prep.adapter, env, argv)
        upstream, source = upstream_for(self.request, config, ignore_cli=ignore_cli_upstream)
        for secret in config.secrets():
            self.vault.remember(secret)
        if upstream != prep.upstream:
            if upstream is not None and upstream.password:
                self.vault.remember(upstream.password)
            self.proxy.set_upstream(upstream)
            prep.upstream, prep.upstream_source = upstream, source
            self.info.upstream, self.info.upstream_source = prep.upstream_display, source
        raw = config.raw
        trust = (raw.ca_pems() or "", raw.strict_ssl, raw.env.get("NODE_EXTRA_CA_CERTS"))
        if trust != self._trust:
            self._trust = trust
            # a fix that names the corporate CA (cafile) or changes strict-ssl: the inspector verifies registries
            # with the new trust, and the tool's bundle carries what it must keep (plus npm-inspect's CA)
            user_trust, client_trust, strict = trust_of(prep.adapter, config)
            inspector_ca = ca.ensure_ca(prep.proxy_config.confdir).read_text()
            upstream_trust, prep.npm_bundle = write_bundles(
                prep.workdir, user_trust, inspector_ca, len(self.info.runs) + 1, client_trust=client_trust
            )
            self.proxy.set_trust(upstream_trust, insecure=not strict)
        if not fix:
            prep.client, prep.raw = config, raw  # the user's own config as it is now (a fix's copy never becomes it)
        return config

    def _end(self, record: RunRecord, code: int, output: str | None) -> RunRecord:
        assert self.prep is not None and self.proxy is not None
        self.proxy.settle()
        outcome = npm_outcome(self.prep, self.proxy, code, record.started or time.time(), output)
        record.exit_code, record.error_code, record.ended = code, outcome.code, time.time()
        record.outcome = outcome.to_dict()
        self._outcomes[record.number] = outcome
        self.info.npm_exit = code
        self.info.npm_outcome = outcome.to_dict()
        self.npm_state = f"exit {code}"
        if self.journal is not None:
            self.journal.update_info(self.info)
        self.diagnoser.poke()
        return record

    def run_blocking(self, *, capture_output: Callable[[str], None] | None = None, fix: FixTrial | None = None) -> RunRecord:
        """Run npm to completion (headless). Without ``capture_output`` npm keeps this terminal (prompts, progress)."""
        record, argv, env = self._begin(fix)
        tail = OutputTail(capture_output) if capture_output is not None else None
        try:
            code = run_child(argv, env, self.request.cwd, tail)
        except BaseException:
            self.npm_state = "stopped"
            raise
        finally:
            self._end_injection()
        return self._end(record, code, tail.text() if tail else None)

    async def run_async(self, on_line: Callable[[str], None], *, fix: FixTrial | None = None) -> RunRecord:
        """Run npm as an asyncio child (the dashboard owns the terminal): its output, redacted, line by line."""
        record, argv, env = await asyncio.to_thread(self._begin, fix)
        env.setdefault("FORCE_COLOR", "0")
        tail = OutputTail(lambda text: on_line(redact_text(text.rstrip("\n"))))  # npm may echo a URL or flag
        try:
            self.npm_process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.request.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            assert self.npm_process.stdout is not None
            async for raw in self.npm_process.stdout:
                tail(raw.decode("utf-8", "replace"))
            code = await self.npm_process.wait()
        except BaseException:
            self.npm_state = "stopped"
            raise
        finally:
            self._end_injection()
        return await asyncio.to_thread(self._end, record, code, tail.text())

    async def stop_npm(self) -> None:
        """Stop a running npm (its whole process group): TERM, then KILL after 5 s."""
        process = self.npm_process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        self.npm_state = "stopped"

    # -- diagnosis -------------------------------------------------------------------------------------------

    def diagnose(self, run: int | None = None) -> Diagnosis:
        """Findings for one run (the current one by default), now."""
        return self.diagnoser.diagnose_now(run)


def run_once(
    request: RunRequest,
    store: SessionStore | None = None,
    *,
    capture_output: Callable[[str], None] | None = None,
    vault: SecretVault | None = None,
) -> tuple[SessionLifecycle, RunRecord]:
    """Prepare, run npm once through a fresh inspector, stop: for scripts (recordings, benches) and tests."""
    session = SessionLifecycle(request, store, vault=vault).start()
    try:
        record = session.run_blocking(capture_output=capture_output)
    finally:
        session.stop()
    return session, record

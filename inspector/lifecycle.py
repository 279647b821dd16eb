"""One session lifecycle for ``run``, the dashboard and the demo: prepare → proxy → runs of npm → stop.

:class:`SessionLifecycle` is the one owner of a live session:

- **prepare**: npm's effective config, the upstream proxy with the credentials npm would send it, the CA
  bundles, and this session's own listener credential (:mod:`inspector.runner`);
- **the proxy** (:class:`~inspector.proxy.InspectorProxy`), whose records go to the store tagged with the
  current run;
- **runs of npm**: the first, the dashboard's ``R``, and each fix tried on a temporary copy of npm's config
  (``x``, ``run --verify-fix``, the demo's fix key) — all through the same inspector, numbered
  (:class:`~inspector.session.RunRecord`), each with npm's own words at its end;
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
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import ca
from .diagnoser import Diagnoser, Diagnosis, RunInputs
from .fixes import FixTrial
from .journal import JournalWriter
from .npmconfig import NpmConfigSnapshot, RawNpmConfig, read_npm_config
from .npmoutcome import NpmOutcome, OutputTail
from .proxy import InspectorProxy
from .redact import redact_argv, redact_text
from .runner import (
    Preparation,
    RunRequest,
    child_command,
    npm_outcome,
    prepare,
    remember_secrets,
    resolve_upstream,
    run_child,
    session_info,
    write_bundles,
)
from .session import RunRecord, SessionInfo, SessionStore
from .vault import SecretVault

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
        self._trust: tuple[str, bool] | None = None
        """The CAs and strict-ssl the proxy verifies registries with now (a tried fix may have changed them)."""
        self._configs: dict[int, NpmConfigSnapshot] = {}
        self.diagnoser = Diagnoser(self.store, self._run_inputs, attachments_dir=attachments_dir)

    # -- what the session is --------------------------------------------------------------------------

    @property
    def has_npm_command(self) -> bool:
        return len(self.request.argv) > 1

    @property
    def raw(self) -> RawNpmConfig:
        """The user's own npm config with raw values (secrets), as of the last plain run: for fixes, never shown."""
        assert self.prep is not None, "start() first"
        return self.prep.raw

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
        return RunInputs(run, config, self._outcomes.get(run), upstream)

    # -- start and stop -----------------------------------------------------------------------------------

    def start(self) -> "SessionLifecycle":
        """Read npm's config, start the proxy (raises :class:`~inspector.errors.InspectorError` subclasses)."""
        self.prep = prepare(self.request)
        remember_secrets(self.vault, self.prep)
        try:
            self.proxy = InspectorProxy(self.prep.proxy_config, self.store.add_live, self.vault).start()
        except BaseException:
            self._remove_workdir()
            raise
        npm_argv = self.info.npm_argv
        self.info = session_info(self.prep, self.proxy)
        self.info.npm_argv = npm_argv
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
        if self.prep is not None:
            shutil.rmtree(self.prep.workdir, ignore_errors=True)

    def reveal(self, fingerprint: str) -> str | None:
        """The secret behind a fingerprint, if it passed through this session."""
        return self.vault.get(fingerprint)

    def point_npm(self) -> PointNpm:
        """The exact settings that point npm at this inspector: environment only (``ps`` shows no credential)."""
        assert self.prep is not None and self.proxy is not None
        _, env = child_command(self.prep, self.proxy)
        url, cafile = env["npm_config_https_proxy"], env["npm_config_cafile"]
        assignments = f"npm_config_proxy={url} npm_config_https_proxy={url} npm_config_cafile={cafile}"
        return PointNpm(f"{assignments} npm install", f"export {assignments}")

    # -- runs ----------------------------------------------------------------------------------------------

    def _begin(self, fix: FixTrial | None) -> tuple[RunRecord, list[str], dict[str, str]]:
        assert self.prep is not None and self.proxy is not None, "start() first"
        if self.running:
            raise RuntimeError("npm is still running")
        number = len(self.info.runs) + 1 if self.info.runs else 1
        extra = fix.env if fix is not None else {}
        if fix is not None or number > 1:
            self._configs[number] = self._reconfigure(extra, ignore_cli_upstream=fix is not None and fix.touches_proxy)
        record = RunRecord(number, list(self.info.npm_argv), fix.label if fix else None, started=time.time())
        self.info.runs.append(record)
        self.store.current_run = number
        self.npm_state = "running"
        argv, env = child_command(self.prep, self.proxy, extra_env=extra)
        self.diagnoser.poke()
        return record, argv, env

    def _reconfigure(self, extra_env: dict[str, str], *, ignore_cli_upstream: bool) -> NpmConfigSnapshot:
        """npm's config as this run will see it (a fix's temporary copy); the proxy's upstream follows it.

        A fix that sets ``https-proxy`` with a login changes what npm would send the corporate proxy: the
        inspector then sends that (``upstream_auth``), or the fix could never be proven.
        """
        assert self.prep is not None and self.proxy is not None
        request = self.request
        env = dict(os.environ if request.env is None else request.env)
        env.update(request.extra_env)
        env.update(extra_env)
        npm = shutil.which("npm", path=env.get("PATH")) or self.prep.npm_path
        raw = read_npm_config(npm, cwd=request.cwd, env=env, npm_args=request.argv[1:])
        cli_upstream = None if ignore_cli_upstream else request.upstream
        upstream, source = resolve_upstream(raw, cli_upstream, source=request.upstream_source, password=request.upstream_password)
        for secret in raw.secrets():
            self.vault.remember(secret)
        if upstream != self.prep.upstream:
            if upstream is not None and upstream.password:
                self.vault.remember(upstream.password)
            self.proxy.set_upstream(upstream)
            self.prep.upstream, self.prep.upstream_source = upstream, source
            self.info.upstream, self.info.upstream_source = self.prep.upstream_display, source
        trust = (raw.ca_pems() or "", raw.strict_ssl)
        if self._trust is None:
            self._trust = (self.prep.raw.ca_pems() or "", self.prep.raw.strict_ssl)
        if trust != self._trust:
            self._trust = trust
            # a fix that names the corporate CA (cafile) or changes strict-ssl: the inspector verifies registries
            # with the new trust, and npm's bundle carries it (plus npm-inspect's CA)
            user_trust = trust[0] or ca.node_root_certificates()
            inspector_ca = ca.ensure_ca(self.prep.proxy_config.confdir).read_text()
            upstream_trust, self.prep.npm_bundle = write_bundles(self.prep.workdir, user_trust, inspector_ca, len(self.info.runs) + 1)
            self.proxy.set_trust(upstream_trust, insecure=not raw.strict_ssl)
        if not extra_env:
            self.prep.raw = raw  # the user's own config as it is now (a fix's copy never becomes it)
        return raw.snapshot()

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

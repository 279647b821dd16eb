"""The full-screen dashboard.

It draws a session and owns none of it: a timer takes the records that arrived
since the last look (4–5 times a second) through the view model, the
diagnoser (the live session's, or its own for a saved one) hands it findings,
and the proxy never waits for the screen. With a live session
(:class:`~inspector.lifecycle.SessionLifecycle`) npm runs as a child and its
output shows in a pane; ``R`` runs it again, ``x`` tries the highlighted
finding's fix on a temporary copy of npm's config through the same inspector,
and ``w`` writes a tried fix to the file it names. Without an npm command, a
pane shows how to point npm here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, Static, TabbedContent, TabPane

from ..diagnose import Finding
from ..diagnoser import Diagnoser, Diagnosis, saved_inputs
from ..errors import InspectorError
from ..filtering import FilterError, parse
from ..journal import JournalFollower, JournalWriter
from ..lifecycle import SessionLifecycle
from ..npmconfig import NpmConfigSnapshot
from ..session import SessionInfo, SessionStore
from ..view import ExchangeView
from .fixloop import FixLoop
from .guard import guarded
from .screens import KEYS, ConfirmScreen, HelpScreen, KeyHelp
from .widgets.exchange_table import ExchangeTable, TableHeader
from .widgets.keybar import KeyBar
from .widgets.panels import DetailPane, FindingsPanel, NpmOutput, SetupPane, Status, StatusBar

logger = logging.getLogger(__name__)

INGEST_INTERVAL = 0.2
NARROW_BELOW = 150
"""Terminals narrower than this stack the table above the side panel."""
SHORT_BELOW = 32
"""Terminals lower than this give the findings more room and fold the header."""
COMPACT_HEADER_BELOW = 100
"""Terminals narrower than this fold the header too."""


def _default_attachments() -> Path:
    from ..paths import config_dir

    return config_dir() / "saved"


class InspectorApp(App[int]):
    """npm-inspect's dashboard over a session store (live, opened or followed)."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (the demo) live elsewhere
    TITLE = "npm-inspect"

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("f", "show_tab('findings')", "Findings"),
        Binding("d", "show_tab('detail')", "Detail"),
        Binding("o", "show_tab('npm')", "npm/setup"),
        Binding("c", "copy_command", "Copy cmd"),
        Binding("r", "reveal", "Reveal", show=False),
        Binding("e", "export", "Export HAR"),
        Binding("R", "rerun", "Run again", key_display="R"),
        Binding("x", "try_fix", "Try fix"),
        Binding("w", "write_fix", "Write fix"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("h", "toggle_header", "Header", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit_inspector", "Quit"),
        Binding("escape", "escape", "Clear filter"),
    ]
    KEY_PRIORITY: tuple[str, ...] = (
        "help",
        "quit_inspector",
        "focus_filter",
        "show_tab('findings')",
        "copy_command",
        "show_tab('detail')",
        "show_tab('npm')",
        "try_fix",
        "write_fix",
        "rerun",
        "toggle_pause",
        "export",
    )
    """The key bar's order of importance (actions): what a narrow terminal keeps first. Help lists all."""

    paused: reactive[bool] = reactive(False)

    def __init__(
        self,
        store: SessionStore,
        *,
        session: SessionLifecycle | None = None,
        info: SessionInfo | None = None,
        snapshot: NpmConfigSnapshot | None = None,
        source: str = "live",
        export_dir: Path | None = None,
        reveal_secret=None,
        journal: JournalWriter | None = None,
        follower: JournalFollower | None = None,
        attachments_dir: Path | None = None,
        start_session=None,
    ) -> None:
        super().__init__()
        self.start_session = start_session
        """For a live session not started yet: a blocking callable that starts it (npm's config, the proxy) and
        returns its journal. The dashboard calls it on a thread after its first frame, so the screen shows within
        a second while the proxy starts; an :class:`InspectorError` from it ends the app (``start_error``)."""
        self.start_error: InspectorError | None = None
        self.session_ready = start_session is None
        self.attachments_dir = attachments_dir
        self.journal = journal
        self.follower = follower
        self.store = store
        self.view = ExchangeView(store)
        """Filter, rows, focus and follow-the-tail: the table only draws it."""
        self.session = session
        self.info = info or (session.info if session else SessionInfo())
        self.snapshot = snapshot or (session.snapshot if session else NpmConfigSnapshot())
        self.source = source
        self.export_dir = export_dir or Path.cwd()
        self.reveal_secret = reveal_secret or (session.reveal if session else None)
        self.diagnoser = session.diagnoser if session is not None else Diagnoser(
            store, self._saved_inputs, attachments_dir=attachments_dir or _default_attachments(), journal=journal
        )
        """Findings come from here: the live session's diagnoser, or one of the dashboard's own for a saved session."""
        self.fixes = FixLoop(self)
        self.findings: list[Finding] = []
        self.revealed = False
        self.last_copied: str | None = None
        self.last_export: Path | None = None
        self.errors: list[str] = []
        """Errors caught in the dashboard (shown and logged; capture and the journal go on)."""
        self._last_error_notice = -10.0
        self._counts: tuple[Counter[str], Counter[str], int] = (Counter(), Counter(), 0)
        self.header_expanded: bool | None = None
        """None: the header folds on small terminals; True/False: the user chose with ``h``."""

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield TableHeader(id="table-header")
                yield ExchangeTable(self.view, id="table")
                with Horizontal(id="filter-row"):
                    yield Input(placeholder="/ filter: status:403 hop:proxy host:registry method:CONNECT …", id="filter")
                    yield Static("0 rows", id="row-count")
            with TabbedContent(id="side", initial="findings"):
                with TabPane("Findings", id="findings"):
                    yield FindingsPanel(id="findings-panel")
                with TabPane("Detail", id="detail"):
                    yield DetailPane(id="detail-pane")
                if self.session is not None and not self.session.has_npm_command:
                    with TabPane("Setup", id="npm"):
                        yield SetupPane(id="setup")
                else:
                    with TabPane("npm", id="npm"):
                        yield NpmOutput(id="npm-output")
        yield KeyBar(self.KEY_PRIORITY)

    def on_mount(self) -> None:
        # keep the widgets: timers fire while a modal screen is on top, where app.query_one cannot see them
        self.table = self.query_one(ExchangeTable)
        self.status_bar = self.query_one(StatusBar)
        self.filter_input = self.query_one("#filter", Input)
        self.row_count = self.query_one("#row-count", Static)
        self._rows_shown = "0 rows"
        self.tabs = self.query_one(TabbedContent)
        self.findings_panel = self.query_one(FindingsPanel)
        self.detail_pane = self.query_one(DetailPane)
        self.on_resize()
        self.table.focus()
        if self.journal is not None:
            self.journal.on_error = self._journal_failed
        self.set_interval(INGEST_INTERVAL, self._ingest)
        self._ingest()
        self.diagnoser.listen(self._diagnosed)
        self.diagnoser.on_error = lambda e: self._from_any_thread(self.report_error, e)
        if self.source in ("live", "following"):
            self.diagnoser.start()
            self.diagnoser.poke()
        else:  # a saved session: diagnose now, so the first frame already shows the findings
            self.diagnoser.diagnose_now()
        if self.session is not None and self.start_session is not None:
            self.call_after_refresh(self._start_live)  # the first frame first, then npm's config and the proxy
        elif self.session is not None:
            self._session_started()
        elif self.store and self.source not in ("live", "following"):
            self.query_one("#npm-output", NpmOutput).write_line(
                f"(saved session: {' '.join(self.info.npm_argv) or 'npm -'} exited {self.info.npm_exit})"
            )

    def _session_started(self) -> None:
        """The live session listens: its notes, then npm's first run (or how to point npm here)."""
        assert self.session is not None
        self.session_ready = True
        for note in self.info.tool_notes:  # what the tool's config or injection cannot cover (berry's per-host proxies…)
            self.notify(note, title=self.info.tool_label, severity="warning", timeout=15)
        if self.session.has_npm_command:
            self._run_npm()
        else:
            point = self.session.point_npm()
            self.query_one(SetupPane).set_commands([point.once, point.env])
            self.tabs.active = "npm"

    @work(exclusive=True, group="start")
    async def _start_live(self) -> None:
        """Start the live session off the UI loop (``start_session``), then carry on as if it had been started before."""
        assert self.session is not None and self.start_session is not None
        try:
            journal = await asyncio.to_thread(self.start_session)
        except InspectorError as e:  # npm's config unreadable, the port taken…: one line after the app closes
            self.start_error = e
            self.exit(2)
            return
        session = self.session
        self.info, self.snapshot = session.info, session.snapshot
        if journal is not None:
            self.journal = journal
            journal.on_error = self._journal_failed
        self._update_status()
        self._session_started()

    def attach_session(self, session: SessionLifecycle) -> None:
        """Draw another live session over the same store (the demo's next scenario): a fresh screen, its npm."""
        self.diagnoser.unlisten(self._diagnosed)
        self.session = session
        self.info = session.info
        self.snapshot = session.snapshot
        self.reveal_secret = session.reveal
        self.revealed = False
        self.diagnoser = session.diagnoser
        self.fixes = FixLoop(self)
        self.view.reset()
        self.findings = []
        self.findings_panel.update_findings([])
        self.findings_panel.set_fix_status(None)
        for output in self.query(NpmOutput):
            output.clear()
        self.diagnoser.listen(self._diagnosed)
        self.diagnoser.on_error = lambda e: self._from_any_thread(self.report_error, e)
        self.diagnoser.start()
        self._update_status()

    def on_resize(self) -> None:
        if self.screen_stack:
            main = self.screen_stack[0]
            main.set_class(self.size.width < NARROW_BELOW, "narrow")
            main.set_class(self.size.height < SHORT_BELOW, "short")
        self._fold_header()

    @property
    def header_compact(self) -> bool:
        """Is the header folded (two lines that never wrap)? Small terminals fold it unless the user said otherwise."""
        if self.header_expanded is not None:
            return not self.header_expanded
        return self.size.height < SHORT_BELOW or self.size.width < COMPACT_HEADER_BELOW

    def _fold_header(self) -> None:
        """Apply :attr:`header_compact` to the header's widgets (the demo adds its banner)."""
        if hasattr(self, "status_bar"):
            self.status_bar.compact = self.header_compact

    def _from_any_thread(self, callback, *args, **kwargs) -> None:
        """Run ``callback`` on the app's thread, whichever thread asks (the diagnoser's, the journal's, or this one);
        after the app has closed, nothing is drawn."""
        if getattr(self, "_thread_id", None) == threading.get_ident():
            callback(*args, **kwargs)
            return
        if not self.is_running:
            return
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.call_from_thread(callback, *args, **kwargs)

    def on_unmount(self) -> None:
        self.diagnoser.unlisten(self._diagnosed)
        if self.session is None:  # the dashboard's own diagnoser (a followed or fed session)
            self.diagnoser.stop()

    def _journal_failed(self, message: str) -> None:
        """The journal stopped writing (disk full, unwritable): say so; capture goes on in memory."""
        self._from_any_thread(self.notify, message, title="Session file", severity="warning", timeout=15)

    def report_error(self, error: Exception) -> None:
        """A widget failed (see :func:`guard.guarded`): show it once in a while, log it, keep going."""
        now = time.monotonic()
        self.errors.append(f"{type(error).__name__}: {error}")
        if now - self._last_error_notice < 5:
            return
        self._last_error_notice = now
        self.notify(
            f"The dashboard hit an error ({type(error).__name__}: {error}). It is logged; capture and the session file go on.",
            title="Dashboard error",
            severity="error",
            timeout=10,
        )

    # -- the store → the view ---------------------------------------------------------------------

    @guarded()
    def _ingest(self) -> None:
        if self.follower is not None:
            self.info = self.follower.parser.info
            self.snapshot = self.follower.parser.config or self.snapshot
        if not self.paused:
            self.view.sync()
        self._update_status()

    def _update_status(self) -> None:
        view = self.view
        by_hop, failures, size = self._counts
        self.status_bar.status = Status(
            listen=self.info.listen or ("starting…" if self.source == "live" else "-"),  # live: before the proxy listens
            upstream=self.info.upstream,
            mode=self.info.mode,
            npm=" ".join(self.info.npm_argv),
            npm_state=self._npm_state(),
            total=len(self.store),
            shown=len(view),
            by_hop=by_hop,
            failures_by_hop=failures,
            bytes=size,
            paused=self.paused,
            pending=view.pending,
            source=self.source,
        )
        rows = f"{len(view)} / {len(self.store)} rows"
        if rows != self._rows_shown:
            # A full layout only when the width changes (a digit more): a layout per refresh was most of the
            # dashboard's drawing cost while a big install streams in (bench/big_install.py).
            self.row_count.update(rows, layout=len(rows) != len(self._rows_shown))
            self._rows_shown = rows

    def _npm_state(self) -> str:
        """npm's state for the status bar: running, or each run's result side by side."""
        session = self.session
        if session is not None and session.running:
            return f"run {session.current_run} running" if len(self.info.runs) > 1 else "running"
        runs = self.info.runs_line()
        if runs:
            return runs
        if session is not None:
            return session.npm_state
        return f"exit {self.info.npm_exit}" if self.info.npm_exit is not None else ""

    def _saved_inputs(self, run: int | None = None):
        """What a saved or followed session says about its runs (the follower's info grows)."""
        return saved_inputs(self.info, self.snapshot, self.store.exchanges(), run)

    def _diagnosed(self, diagnosis: Diagnosis) -> None:
        """The diagnoser's listener (any thread)."""
        self._from_any_thread(self._show_findings, diagnosis.findings, (diagnosis.by_hop, diagnosis.failures_by_hop, diagnosis.bytes))

    @guarded()
    def _show_findings(self, findings: list[Finding], counts: tuple[Counter[str], Counter[str], int]) -> None:
        if not self.paused:
            self.view.sync()  # the rows a finding points at are on screen with it, never after it
        self._counts = counts
        if [(f.rule, f.title, f.count) for f in findings] != [(f.rule, f.title, f.count) for f in self.findings]:
            self.findings = findings
            self.findings_panel.update_findings(findings)
        self._update_status()

    # -- npm ------------------------------------------------------------------------------------

    @work(exclusive=True, group="npm")
    async def _run_npm(self, fix=None) -> None:
        """One more run of npm through the session's inspector (the first, ``R``, or a fix being tried)."""
        session = self.session
        assert session is not None
        output = self.query_one(NpmOutput)
        number = len(session.runs) + 1
        if number > 1:
            output.write_line("")
            output.write_line(f"── run {number}" + (f" · trying: {fix.label}" if fix is not None else "") + " ──")
        output.write_line(f"$ {' '.join(self.info.npm_argv)}")
        try:
            record = await session.run_async(output.write_line, fix=fix)
        except InspectorError as e:
            self.notify(str(e), title=f"Run {number}", severity="error", timeout=15)
            return
        finally:
            self._update_status()
        tool = Path(self.info.npm_argv[0]).name if self.info.npm_argv else "npm"
        output.write_line(f"{tool} exited with status {record.exit_code}")
        self.notify(
            f"run {record.number}: {tool} exited with status {record.exit_code}",
            severity="information" if record.exit_code == 0 else "warning",
        )
        return record

    # -- interactions ------------------------------------------------------------------------------

    @on(ExchangeTable.Highlighted)
    def _highlighted(self, event: ExchangeTable.Highlighted) -> None:
        if self.tabs.active == "detail":
            self._show_detail()

    @on(ExchangeTable.Selected)
    def _selected(self, event: ExchangeTable.Selected) -> None:
        self.tabs.active = "detail"
        self._show_detail()

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "detail":
            self._show_detail()

    @guarded()
    def _show_detail(self) -> None:
        current = self.view.focus
        reveal = self.reveal_secret if self.revealed else None
        self.detail_pane.show(current, reveal)

    @on(FindingsPanel.Jump)
    def _jump(self, event: FindingsPanel.Jump) -> None:
        ids = ",".join(e.exchange_id for e in event.finding.evidence)
        if not ids:
            return
        query = f"id:{ids}"
        self.filter_input.value = query
        self._apply_filter(query)
        self.view.focus_on(event.finding.evidence[0].exchange_id)
        self.table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.input.value)  # the current text: events may lag behind fast typing

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def _apply_filter(self, text: str) -> None:
        field = self.filter_input
        try:
            query = parse(text) if text.strip() else None
        except FilterError as e:
            field.add_class("-invalid")
            field.tooltip = str(e)
            return
        field.remove_class("-invalid")
        field.tooltip = None
        self.view.set_filter(query)
        self._update_status()

    def action_focus_filter(self) -> None:
        self.filter_input.focus()

    def action_escape(self) -> None:
        field = self.filter_input
        if field.value:
            field.value = ""
            self._apply_filter("")
        self.table.focus()

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        if tab == "findings":
            self.query_one("#finding-list").focus()

    def action_copy_command(self) -> None:
        active = self.tabs.active
        command = None
        if active == "npm" and self.query(SetupPane):
            command = self.query_one(SetupPane).command
        if command is None:
            command = self.findings_panel.command
        if command is None:
            self.notify("No command to copy: select a finding (f) or the setup pane (o).", severity="warning")
            return
        self.copy_to_clipboard(command)
        self.last_copied = command
        self.notify(f"Copied: {command}", title="Clipboard")

    def action_reveal(self) -> None:
        if self.revealed:
            self.revealed = False
            self._show_detail()
            self.notify("Secrets hidden again.")
            return
        if self.reveal_secret is None:
            self.notify("Nothing to reveal: saved sessions never contain secrets, only fingerprints.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.revealed = True
                self.tabs.active = "detail"
                self._show_detail()

        self.push_screen(
            ConfirmScreen(
                "Show proxy passwords, tokens and cookies in the detail pane?\n"
                "Anyone who can see this screen (screen share, npm-inspect serve) will see them. "
                "They are never written to the session, reports or HAR."
            ),
            answered,
        )

    def action_export(self) -> None:
        from ..har import write_har

        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"npm-inspect-{stamp}.har"
        try:
            write_har(path, self.store.exchanges(), self.info, self.snapshot, vault=self.session.vault if self.session else None)
        except OSError as e:
            self.notify(f"Cannot write {path}: {e.strerror}", severity="error")
            return
        except InspectorError as e:
            self.notify(str(e), severity="error")
            return
        self.last_export = path
        self.notify(f"Saved a redacted HAR: {path}", title="Export")

    LIVE_ACTIONS = frozenset({"rerun", "try_fix", "write_fix"})
    """Actions that run npm or write its config: offered only over a live session with an npm command."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.LIVE_ACTIONS:
            return self.session is not None and self.session.has_npm_command and self.session_ready
        return True

    def action_rerun(self) -> None:
        self.run_worker(self.fixes.rerun(), group="fix", exclusive=True)

    def action_try_fix(self) -> None:
        self.run_worker(self.fixes.verify(self.findings_panel.highlighted), group="fix", exclusive=True)

    def action_write_fix(self) -> None:
        self.run_worker(self.fixes.write(), group="fix", exclusive=True)

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.view.sync()
        self._update_status()

    def help_keys(self) -> tuple[tuple[str, tuple[KeyHelp, ...]], ...]:
        """Sections of keys the help shows before the dashboard's own (the demo adds its keys)."""
        return ()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(KEYS, self.help_keys()))

    def action_toggle_header(self) -> None:
        self.header_expanded = self.header_compact
        self._fold_header()

    async def action_quit_inspector(self) -> None:
        if self.session is not None and not self.session_ready:
            pass  # still starting: whoever started the app stops the session once the start has ended
        elif self.session is not None:
            self.notify("Stopping npm and the proxy…")
            await self.session.stop_npm()
            await asyncio.to_thread(self.session.stop)
        elif self.source in ("live", "following"):
            self.diagnoser.stop()
        self.exit(self.info.npm_exit if self.info.npm_exit is not None else 0)

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        for title, help_text, action in (
            ("Filter exchanges", "Focus the filter (/)", self.action_focus_filter),
            ("Clear filter", "Show every exchange (escape)", self.action_escape),
            ("Show findings", "Who said no, and the fix (f)", lambda: self.action_show_tab("findings")),
            ("Show detail", "Headers, evidence and timing of the selected exchange (d)", lambda: self.action_show_tab("detail")),
            ("Show npm output / setup", "npm's own output, or how to point npm here (o)", lambda: self.action_show_tab("npm")),
            ("Copy command", "Copy the highlighted fix or setup command (c)", self.action_copy_command),
            ("Reveal secrets", "Show secrets in the detail pane, after asking (r)", self.action_reveal),
            ("Export HAR", "Save a redacted HAR of this session (e)", self.action_export),
            ("Pause / resume", "Freeze the live view; capture continues (p)", self.action_toggle_pause),
            ("Expand / collapse the header", "Show every detail of the session at the top, or fold it to two lines (h)", self.action_toggle_header),
            ("Follow new exchanges", "Go to the last exchange and follow the tail (End)", self.view.last),
            ("Help", "Keys and outcomes (?)", self.action_help),
            ("Quit npm-inspect", "Stop npm and the proxy (q)", self.action_quit_inspector),
        ):
            yield SystemCommand(title, help_text, action)
        if self.check_action("rerun", ()):
            yield SystemCommand("Run npm again", "The same npm command through the same inspector, as the next run (R)", self.action_rerun)
            yield SystemCommand("Try the fix", "Apply the highlighted finding's fix to a temporary copy of npm's config and run npm again (x)", self.action_try_fix)
            yield SystemCommand("Write the fix", "Write the tried fix to the npm config file it names, with a backup (w)", self.action_write_fix)

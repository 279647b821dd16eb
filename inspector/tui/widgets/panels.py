"""The dashboard's panels: status bar, detail, findings, setup and npm output."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList, RichLog, Static
from textual.widgets.option_list import Option

from ...diagnose import Finding
from ...records import Exchange
from ...redact import redact_url
from ..guard import guarded
from ..render import Reveal, detail, finding_text, human_size


@dataclass
class Status:
    """Everything the status bar shows."""

    listen: str = "starting…"
    upstream: str | None = None
    mode: str = "decrypt"
    npm: str = ""
    npm_state: str = ""
    total: int = 0
    shown: int = 0
    by_hop: Counter[str] = field(default_factory=Counter)
    failures_by_hop: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    paused: bool = False
    pending: int = 0
    source: str = "live"


class StatusBar(Static):
    """Listen address, upstream (password masked), mode, counts by hop, bytes, npm's state.

    Compact (small terminals, or ``h``): two lines that never wrap, what
    matters most first; expanded: everything, wrapped.
    """

    DEFAULT_CSS = """
    StatusBar { height: auto; padding: 0 1; background: $boost; }
    StatusBar.-compact { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    status: reactive[Status] = reactive(Status, always_update=True)
    compact: reactive[bool] = reactive(False, toggle_class="-compact", layout=True)

    @guarded(lambda self, error: Text(f"npm-inspect (status unavailable: {error})"))
    def render(self) -> Text:
        return self._compact() if self.compact else self._full()

    def _compact(self) -> Text:
        s = self.status
        upstream = redact_url(s.upstream) if s.upstream else "direct"
        line1 = Text.assemble(
            ("npm-inspect ", "bold"),
            (f"{s.source} " if s.source != "live" else "", "bold yellow"),
            (s.listen, "bold"),
            (" → ", "dim"),
            (upstream, "bold"),
            (f"  {s.mode}", "dim"),
        )
        line2 = Text()
        if s.paused:
            line2.append(f"PAUSED ({s.pending} new) ", "bold reverse")
        if s.npm:
            state_style = "bold green" if s.npm_state == "exit 0" else "bold red" if s.npm_state.startswith("exit") else "bold yellow"
            line2.append(s.npm, "bold")
            line2.append(f" [{s.npm_state}]  ", state_style)
        line2.append(f"{s.total}", "bold")
        line2.append(" exchanges", "dim")
        for hop, n in sorted(s.by_hop.items()):
            failed = s.failures_by_hop.get(hop)
            line2.append(f"  {hop} {n}")
            if failed:
                line2.append(f" ({failed}✗)", "red")
        line2.append(f"  {human_size(s.bytes)}", "dim")
        return Text("\n").join([line1, line2])

    def _full(self) -> Text:
        s = self.status
        upstream = redact_url(s.upstream) if s.upstream else "direct (no upstream proxy)"
        line1 = Text.assemble(
            ("npm-inspect ", "bold"),
            (f"{s.source} " if s.source != "live" else "", "bold yellow"),
            ("listening ", "dim"),
            (s.listen, "bold"),
            ("  upstream ", "dim"),
            (upstream, "bold"),
            ("  mode ", "dim"),
            (s.mode, "bold"),
        )
        if s.npm:
            line1.append("  npm ", "dim")
            line1.append(s.npm[:60], "bold")
            state_style = "bold green" if s.npm_state == "exit 0" else "bold red" if s.npm_state.startswith("exit") else "bold yellow"
            line1.append(f" [{s.npm_state}]", state_style)
        hops = "  ".join(
            f"{hop} {n}" + (f" ({s.failures_by_hop[hop]} failed)" if s.failures_by_hop.get(hop) else "")
            for hop, n in sorted(s.by_hop.items())
        )
        line2 = Text.assemble(
            ("exchanges ", "dim"),
            (f"{s.total}", "bold"),
            ("  by hop: ", "dim"),
            (hops or "-", ""),
            ("  bytes ", "dim"),
            (human_size(s.bytes), ""),
        )
        if s.paused:
            line2.append(f"  PAUSED — capture continues ({s.pending} new)", "bold reverse")
        return Text("\n").join([line1, line2])


class DetailPane(VerticalScroll):
    """The selected exchange: evidence, timing waterfall, headers (masked), body preview."""

    def compose(self) -> ComposeResult:
        yield Static("Select an exchange (↑/↓, enter).", id="detail-body")

    content: RenderableType = "Select an exchange (↑/↓, enter)."
    """What the pane shows now (kept for tests and screenshots)."""

    @guarded(lambda self, error: self.query_one("#detail-body", Static).update(Text(f"This exchange could not be shown: {error} (logged)", style="red")))
    def show(self, exchange: Exchange | None, reveal: Reveal | None = None) -> None:
        self.content = "Select an exchange (↑/↓, enter)." if exchange is None else detail(exchange, reveal, self.size.width - 2)
        self.query_one("#detail-body", Static).update(self.content)


class FindingsPanel(Vertical):
    """Ranked findings; the highlighted one's explanation and commands below."""

    class Jump(Message):
        """Enter on a finding: show its evidence exchanges."""

        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.findings: list[Finding] = []

    def compose(self) -> ComposeResult:
        yield OptionList(id="finding-list")
        with VerticalScroll(id="finding-scroll"):
            yield Static("No problems found yet.", id="finding-text")
        yield Static("Commands (c copies the highlighted one):", id="commands-title")
        yield OptionList(id="command-list")
        status = Static("", id="fix-status")
        status.display = False
        yield status

    @guarded()
    def update_findings(self, findings: list[Finding]) -> None:
        options = self.query_one("#finding-list", OptionList)
        previous = self.highlighted
        self.findings = findings
        options.set_options(
            Option(Text.assemble(("● " if f.severity == "error" else "○ ", "red" if f.severity == "error" else "yellow"), f.title, (f" ×{f.count}" if f.count > 1 else "", "dim")), id=str(i))
            for i, f in enumerate(findings)
        )
        if findings:
            index = 0
            if previous is not None:
                index = next((i for i, f in enumerate(findings) if f.rule == previous.rule and f.title == previous.title), 0)
            options.highlighted = index
            self._show(findings[index])
        else:
            self.query_one("#finding-text", Static).update("No problems found yet.")
            self.query_one("#command-list", OptionList).clear_options()

    def set_fix_status(self, text: str | None, *, ok: bool = True) -> None:
        """What the last tried or written fix did (under the commands)."""
        status = self.query_one("#fix-status", Static)
        status.update(text or "")
        status.display = bool(text)  # no line taken until there is something to say (80×24)
        status.set_class(not ok, "-failed")

    @property
    def highlighted(self) -> Finding | None:
        options = self.query_one("#finding-list", OptionList)
        if options.highlighted is None or not self.findings or options.highlighted >= len(self.findings):
            return None
        return self.findings[options.highlighted]

    @property
    def command(self) -> str | None:
        """The command `c` copies: the highlighted command, else the finding's first."""
        commands = self.query_one("#command-list", OptionList)
        finding = self.highlighted
        if finding is None or not finding.commands:
            return None
        index = commands.highlighted if commands.highlighted is not None else 0
        return finding.commands[min(index, len(finding.commands) - 1)]

    def _show(self, finding: Finding) -> None:
        self.query_one("#finding-text", Static).update(finding_text(finding))
        commands = self.query_one("#command-list", OptionList)
        commands.set_options(Option(Text(c), id=f"cmd{i}") for i, c in enumerate(finding.commands))
        if finding.commands:
            commands.highlighted = 0

    @on(OptionList.OptionHighlighted, "#finding-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.highlighted is not None:
            self._show(self.highlighted)

    @on(OptionList.OptionSelected, "#finding-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if self.highlighted is not None:
            self.post_message(self.Jump(self.highlighted))


class SetupPane(Vertical):
    """With no npm command: the exact commands that point npm at this inspector."""

    def compose(self) -> ComposeResult:
        yield Static("Point npm at this inspector (c copies the highlighted command):", id="setup-title")
        yield OptionList(id="setup-list")
        yield Static(
            "The URL holds this run's proxy credential: npm-inspect serves no client without it. Paste it into "
            "the environment (as shown), not onto a command line, where ps shows it to every user.\n"
            "Or run npm through it: npm-inspect -- npm install <package>\n"
            "The CA bundle holds your own CAs plus npm-inspect's CA; it is removed when npm-inspect exits.",
            id="setup-note",
        )

    def set_commands(self, commands: list[str]) -> None:
        options = self.query_one("#setup-list", OptionList)
        options.set_options(Option(Text(c), id=f"setup{i}") for i, c in enumerate(commands))
        if commands:
            options.highlighted = 0

    @property
    def command(self) -> str | None:
        options = self.query_one("#setup-list", OptionList)
        if options.highlighted is None or options.option_count == 0:
            return None
        return str(options.get_option_at_index(options.highlighted).prompt)


class NpmOutput(RichLog):
    """npm's own output, line by line; long lines (npm's error explanations) wrap."""

    DEFAULT_CSS = """
    NpmOutput { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, min_width=20)

    def write_line(self, line: str) -> None:
        self.write(Text(line))

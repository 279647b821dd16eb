"""Modal screens: help, and a yes/no question asked before anything sensitive."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

KeyHelp = tuple[str, str]
"""(keys as shown, what they do): one help row."""

KEYS: tuple[KeyHelp, ...] = (
    ("↑ ↓  k j", "move in the exchanges"),
    ("PgUp PgDn", "a page up or down"),
    ("Home  g", "the first exchange"),
    ("End  G", "the last exchange, and follow new ones again"),
    ("enter", "details of the exchange; on a finding: jump to its evidence"),
    ("/", "filter the exchanges (terms below)"),
    ("escape", "clear the filter, back to the table"),
    ("f", "findings: who said no, and the fix"),
    ("d", "detail of the selected exchange"),
    ("o", "npm's own output (or how to point npm here)"),
    ("c", "copy the highlighted command (findings or setup)"),
    ("r", "reveal secrets in the detail (asks first; live sessions only)"),
    ("e", "export a redacted HAR of the session"),
    ("p", "pause or resume the live view (capture goes on)"),
    ("h", "expand or collapse the header"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit: npm is stopped, the proxy closed"),
)
"""Every key of the dashboard, in the order a user meets them. A test checks each binding is here."""

FILTER_TERMS = (
    "status:403  status:4xx  status:error   hop:proxy  hop:registry  hop:tls   host:registry  path:lodash   "
    "method:CONNECT  kind:connect   outcome:proxy-auth   run:2  run:1,2   id:…\n"
    "Terms are combined (AND); a bare word matches host or path; -term negates (-status:200)."
)
OUTCOMES = (
    "✓ ok · ◆ proxy-auth (407) · ■ proxy-deny (proxy 403) · ▼ proxy-down · ◇ reg-auth (401) · "
    "□ reg-forbid (registry 403) · ◎ tls · ↯ network · ← client · ? not-found · ✗ error"
)


def key_table(keys: Sequence[KeyHelp]) -> Table:
    """Keys in a column that never wraps, their text in one that does: every row has both."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold", min_width=max((len(k) for k, _ in keys), default=1))
    table.add_column(ratio=1, overflow="fold")
    for key, text in keys:
        table.add_row(key, text)
    return table


def help_text(keys: Sequence[KeyHelp], extra: Sequence[tuple[str, Sequence[KeyHelp]]] = ()) -> RenderableType:
    """The help screen's body: what the rows are, the keys, filter terms and outcomes."""
    parts: list[RenderableType] = [
        Text("npm-inspect — keys", style="bold"),
        Text.assemble(
            ("Who said no? ", "bold"),
            "Every row is one CONNECT or request npm made. The hop column names who answered: "
            "proxy (the corporate proxy), registry, tls, client (npm) or inspector.",
        ),
        Text(""),
    ]
    for title, section in extra:
        parts += [Text(title, style="bold underline"), key_table(section), Text("")]
    parts += [
        Text("Dashboard", style="bold underline"),
        key_table(keys),
        Text(""),
        Text("Filter terms", style="bold underline"),
        Text(FILTER_TERMS),
        Text(""),
        Text("Outcomes (glyph and word, so they read without colour too)", style="bold underline"),
        Text(OUTCOMES),
    ]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """Every key with what it does; scrolls on small terminals."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, keys: Sequence[KeyHelp] = KEYS, extra: Sequence[tuple[str, Sequence[KeyHelp]]] = ()) -> None:
        super().__init__()
        self.keys = tuple(keys)
        self.extra = tuple(extra)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(self.keys, self.extra), id="help-text")
            yield Static("escape closes · ↑ ↓ scroll", classes="hint")


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something the user may regret (showing secrets)."""

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button("Yes, show them (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

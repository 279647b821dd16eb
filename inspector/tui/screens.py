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
from textual.widgets import Button, Input, Static

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
    ("R", "run the npm command again (same session, next run)"),
    ("x", "try the highlighted finding's fix: a temporary copy of npm's config, npm runs again, before and after"),
    ("w", "write the tried fix to the config file it names (shows the lines, keeps a backup, asks first)"),
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
    """Ask before doing something the user may regret (showing secrets, writing an untried fix)."""

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str, yes: str = "Yes, show them (y)") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(self.yes, id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ValuesScreen(ModalScreen["dict[str, str] | None"]):
    """The values a fix's placeholders need (``<user>``, ``<password>``): secrets typed into masked fields.

    The values stay in this process's memory: the run that tries the fix gets them in a temporary copy of
    npm's config; nothing shows or saves them.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "next_field", "Next", priority=True)]
    """``enter`` moves on at once (a priority binding, not the field's Submitted message): what is typed right
    after it lands in the next field, however fast it comes."""

    def __init__(self, title: str, names: Sequence[str], secret: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.names = list(names)
        self.secret = set(secret)

    def compose(self) -> ComposeResult:
        with Vertical(id="values"):
            yield Static(self.title_text, id="values-title")
            for name in self.names:
                yield Static(f"<{name}>" + (" (hidden as you type)" if name in self.secret else ""), classes="hint")
                yield Input(password=name in self.secret, id=f"value-{name}", placeholder=name)
            yield Static("enter: next field, then try the fix · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_next_field(self) -> None:
        inputs = list(self.query(Input))
        position = inputs.index(self.focused) if self.focused in inputs else len(inputs) - 1
        if position + 1 < len(inputs):
            self.set_focus(inputs[position + 1])
            return
        values = {name: self.query_one(f"#value-{name}", Input).value for name in self.names}
        missing = [name for name, value in values.items() if not value]
        if missing:
            self.query_one(f"#value-{missing[0]}", Input).focus()
            self.notify(f"<{missing[0]}> is empty", severity="warning")
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class WriteScreen(ModalScreen["str | None"]):
    """Confirm writing a fix to the user's own npm config: the file, the exact lines (secrets masked), the backup.

    Answers ``"write"``, ``"env"`` (the ``${VAR}`` form, when a secret must not go into a file git tracks),
    or ``None``.
    """

    BINDINGS = [Binding("escape,n", "answer(None)", "Cancel"), Binding("y", "answer('write')", "Write"), Binding("v", "answer('env')", "Write with ${VAR}")]

    def __init__(self, text: str, *, can_write: bool, can_use_env: bool) -> None:
        super().__init__()
        self.text = text
        self.can_write = can_write
        self.can_use_env = can_use_env

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.text, id="question")
            with Horizontal(id="buttons"):
                if self.can_write:
                    yield Button("Write it (y)", id="write", variant="warning")
                if self.can_use_env:
                    yield Button("Write with ${VAR} (v)", id="env", variant="warning")
                yield Button("Cancel (n)", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_answer(self, answer: str | None) -> None:
        if (answer == "write" and not self.can_write) or (answer == "env" and not self.can_use_env):
            return
        self.dismiss(answer)

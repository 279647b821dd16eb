"""Modal screens: help, and a yes/no question asked before anything sensitive."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

HELP = """\
# npm-inspect

**Who said no?** Every row is one CONNECT or request npm made. The *hop* column names who answered:
`proxy` (the corporate proxy), `registry`, `tls`, `client` (npm) or `inspector`.

| key | action |
| --- | --- |
| `↑` `↓` `PgUp` `PgDn` `Home` `End` | move in the exchanges (End follows the tail again) |
| `enter` | details of the exchange; on a finding: jump to its evidence |
| `/` | filter: `status:403 hop:proxy host:registry method:CONNECT`, free text matches host/path, `-term` negates, `status:4xx`, `outcome:proxy-auth` |
| `escape` | clear the filter / back to the table |
| `f` `d` `o` | findings, detail, npm output (or setup) |
| `c` | copy the highlighted command (findings or setup) |
| `r` | reveal secrets in the detail (asks first; live sessions only) |
| `e` | export a redacted HAR of the session |
| `p` | pause/resume the live view (capture continues) |
| `ctrl+p` | command palette: every action by name |
| `?` | this help |
| `q` | quit: npm is stopped, the proxy closed |

Outcomes (glyph and word, so they read without colour too):
✓ ok · ◆ proxy-auth (407) · ■ proxy-deny (proxy 403) · ▼ proxy-down · ◇ reg-auth (401) ·
□ reg-forbid (registry 403) · ◎ tls · ↯ network · ← client · ? not-found · ✗ error
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
            yield Static("escape closes", classes="hint")


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

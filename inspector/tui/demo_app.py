"""The demo's dashboard: the same app, plus the scenario's story, a scenario menu and the fix key."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..errors import InspectorError
from ..lab.demo import apply_fix, fixable
from ..lab.scenarios import SCENARIOS, Scenario
from ..lab.world import DemoWorld
from ..live import LiveSession
from ..runner import RunRequest
from .app import InspectorApp
from .screens import KeyHelp


class ScenarioMenu(ModalScreen[str | None]):
    """Pick a scenario; each is a separate small corporate network."""

    BINDINGS = [Binding("escape,s", "dismiss(None)", "Close")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = OptionList(
            *(Option(Text.assemble((f"{s.name:<15}", "bold"), s.title), id=s.name) for s in SCENARIOS),
            id="scenario-menu",
        )
        options.border_title = "Scenarios (enter opens one)"
        yield options

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        menu.highlighted = next((i for i, s in enumerate(SCENARIOS) if s.name == self.current), 0)
        menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class DemoBanner(Static):
    DEFAULT_CSS = """
    DemoBanner { height: auto; padding: 0 1; background: $primary 20%; }
    DemoBanner.-fixed { background: $success 30%; }
    DemoBanner.-failed { background: $error 25%; }
    """


class DemoApp(InspectorApp):
    """The dashboard over one demo world; exits with the next scenario to open (or None to quit)."""

    BINDINGS = [
        Binding("x", "apply_fix", "Apply fix"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("n", "next_scenario", "Next"),
    ]
    KEY_PRIORITY = ("help", "apply_fix", "next_scenario", "scenarios", *InspectorApp.KEY_PRIORITY[1:])
    DEMO_KEYS: tuple[KeyHelp, ...] = (
        ("x", "apply the top finding's fix to this demo's own npm config and run npm again"),
        ("s", "scenarios: open another one"),
        ("n", "the next scenario"),
    )
    CSS = """
    #scenario-menu { width: 80; max-width: 95%; height: auto; max-height: 80%; border: round $primary; background: $panel; }
    ScenarioMenu { align: center middle; }
    """

    def __init__(self, world: DemoWorld, live: LiveSession, position: tuple[int, int], **kwargs) -> None:
        super().__init__(live.store, live=live, reveal_secret=live.reveal, attachments_dir=world.dir / "saved", **kwargs)
        self.world = world
        self.position = position
        self.next_scenario: str | None = None
        self.fixed: bool | None = None
        self._banner_extra: Text | None = None

    @property
    def scenario(self) -> Scenario:
        return self.world.scenario

    def on_mount(self) -> None:
        super().on_mount()
        self.mount(DemoBanner(self._story(), id="demo-banner"), after=self.status_bar)

    def _fold_header(self) -> None:
        super()._fold_header()
        for banner in self.query(DemoBanner):
            banner.update(self._story(self._banner_extra))

    def _show_banner(self, extra: Text) -> None:
        self.query_one(DemoBanner).update(self._story(extra))

    def _story(self, extra: Text | None = None) -> Text:
        """The scenario's story and keys; folded (small terminals, ``h``) to its title and the latest news."""
        self._banner_extra = extra
        n, total = self.position
        s = self.scenario
        if self.header_compact:
            text = Text.assemble(
                ("demo ", "bold"),
                (f"{n}/{total} ", "dim"),
                (f"{s.name}: ", "bold"),
                (s.title, "bold"),
                ("  (h: the story)", "dim"),
            )
            if extra is not None:
                text.append("\n")
                text.append_text(extra)
            return text
        text = Text.assemble(
            ("demo ", "bold"),
            (f"{n}/{total} ", "dim"),
            (f"{s.name}: ", "bold"),
            (s.title, "bold"),
            "\n",
            (s.story, ""),
            "\n",
            ("x", "bold reverse"),
            " apply the top finding's fix to this demo's own npm config and run npm again   ",
            ("s", "bold reverse"),
            " scenarios   ",
            ("n", "bold reverse"),
            " next   ",
            ("q", "bold reverse"),
            " quit",
        )
        if extra is not None:
            text.append("\n")
            text.append_text(extra)
        return text

    def help_keys(self) -> tuple[tuple[str, tuple[KeyHelp, ...]], ...]:
        return (("This demo", self.DEMO_KEYS),)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Apply the fix", "Apply the top finding's fix to this demo's npm config and run npm again (x)", self.action_apply_fix)
        yield SystemCommand("Scenarios", "Open another demo scenario (s)", self.action_scenarios)
        yield SystemCommand("Next scenario", "Open the next demo scenario (n)", self.action_next_scenario)

    def action_scenarios(self) -> None:
        def chosen(name: str | None) -> None:
            if name and name != self.scenario.name:
                self.next_scenario = name
                self.run_worker(self.action_quit_inspector())

        self.push_screen(ScenarioMenu(self.scenario.name), chosen)

    async def action_next_scenario(self) -> None:
        names = [s.name for s in SCENARIOS]
        self.next_scenario = names[(names.index(self.scenario.name) + 1) % len(names)]
        await self.action_quit_inspector()

    def action_apply_fix(self) -> None:
        if self.live is not None and self.live.npm_state == "running":
            self.notify("npm is still running: wait for it to finish.", severity="warning")
            return
        finding = fixable(self.findings)
        if finding is None:
            message = "Nothing to fix here: this is what a healthy install looks like." if not self.findings else "This finding has no config change to apply."
            self.notify(message)
            return
        self._show_banner(Text(f"Applying the fix for {finding.rule}…", style="bold"))
        self._apply_and_rerun()

    @work(exclusive=True, group="fix")
    async def _apply_and_rerun(self) -> None:
        banner = self.query_one(DemoBanner)
        try:
            applied = await asyncio.to_thread(apply_fix, self.world, self.findings)
        except InspectorError as e:
            self.notify(f"The fix could not be applied: {e}", severity="error")
            return
        if applied is None:
            self.notify("The fix needs a value the demo does not know.", severity="error")
            return
        old = self.live
        if old is not None:
            await asyncio.to_thread(old.stop)
        self.store.clear()
        self.view.reset()
        self.findings = []
        self.findings_panel.update_findings([])
        live = LiveSession(RunRequest(argv=self.world.argv, cwd=str(self.world.project), env=self.world.npm_env()), self.store)
        await asyncio.to_thread(live.start)
        self.live = live
        self.info = live.info
        self.reveal_secret = live.reveal
        self._show_banner(Text.assemble(("Applied: ", "bold"), "; ".join(applied.commands), (" — running npm again…", "dim")))
        await self._run_npm().wait()
        exit_code = live.info.npm_exit
        self.fixed = exit_code == 0
        banner.set_class(self.fixed, "-fixed")
        banner.set_class(not self.fixed, "-failed")
        verdict = Text.assemble(
            (f"✓ Fixed: npm exited {exit_code} after " if self.fixed else f"✗ npm still exits {exit_code} after ", "bold"),
            "; ".join(applied.commands),
            (" (only this demo's temporary npm config was changed)", "dim"),
        )
        self._show_banner(verdict)

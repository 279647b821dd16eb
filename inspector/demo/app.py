"""The demo's dashboard: the same app over a demo world, plus the scenario's story, a scenario menu and the fix key.

Scenarios switch in place (the screen stays full): the current session and world stop, the next ones start
on a worker, and the dashboard attaches to the new session. ``x`` applies the top finding's fix to the
demo's own npm config (the values a user would type are the world's) and runs npm again as the next run,
which reads the changed config.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..errors import InspectorError
from ..lab.scenarios import BY_NAME, SCENARIOS, Scenario
from ..lab.world import DemoLab, DemoWorld
from ..lifecycle import SessionLifecycle
from ..session import SessionStore
from ..tui.app import InspectorApp
from ..tui.screens import KeyHelp
from .runs import apply_fix, fixable, session_for


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
    """The dashboard over the demo's worlds, one scenario at a time; quitting exits 0."""

    BINDINGS = [
        Binding("x", "apply_fix", "Apply fix"),
        Binding("s", "scenarios", "Scenarios"),
        Binding("n", "next_scenario", "Next"),
    ]
    KEY_PRIORITY = ("apply_fix", "next_scenario", "scenarios", *InspectorApp.KEY_PRIORITY)
    DEMO_KEYS: tuple[KeyHelp, ...] = (
        ("x", "apply the top finding's fix to this demo's own npm config and run npm again"),
        ("s", "the scenarios: pick one"),
        ("n", "the next scenario"),
    )
    CSS = """
    #scenario-menu { width: 80; max-width: 95%; height: auto; max-height: 80%; border: round $primary; background: $panel; }
    ScenarioMenu { align: center middle; }
    """

    def __init__(self, lab: DemoLab, world: DemoWorld, session: SessionLifecycle, **kwargs) -> None:
        super().__init__(session.store, session=session, **kwargs)
        self.lab = lab
        self.world = world
        self.fixed: bool | None = None
        self.switching = False

    @property
    def scenario(self) -> Scenario:
        return self.world.scenario

    @property
    def position(self) -> tuple[int, int]:
        names = [s.name for s in SCENARIOS]
        return names.index(self.scenario.name) + 1, len(names)

    def on_mount(self, event: events.Mount) -> None:
        # Textual calls every class's on_mount in the MRO unless told not to: the dashboard's own would run twice
        # (and start npm twice, the second refused with "npm is still running")
        event.prevent_default()
        super().on_mount()
        self.mount(DemoBanner(self._story(), id="demo-banner"), after=self.status_bar)
        self._fold_header()

    def help_keys(self) -> tuple[tuple[str, tuple[KeyHelp, ...]], ...]:
        return (("This demo", self.DEMO_KEYS),)

    def get_system_commands(self, screen):
        from textual.app import SystemCommand

        yield from super().get_system_commands(screen)
        yield SystemCommand("Apply the fix", "Apply the top finding's fix to the demo's npm config and run npm again (x)", self.action_apply_fix)
        yield SystemCommand("Scenarios", "Pick a scenario (s)", self.action_scenarios)
        yield SystemCommand("Next scenario", "Open the next scenario (n)", self.action_next_scenario)

    def _fold_header(self) -> None:
        super()._fold_header()
        banners = self.query(DemoBanner) if self.is_mounted else []
        for banner in banners:
            banner.update(self._story())

    # -- the story -----------------------------------------------------------------------------------------

    def _story(self, extra: Text | None = None) -> Text:
        n, total = self.position
        s = self.scenario
        title = Text.assemble(("demo ", "bold"), (f"{n}/{total} ", "dim"), (f"{s.name}: ", "bold"), (s.title, "bold"))
        if self.header_compact:  # a small terminal: the title and the latest news only
            if extra is not None:
                title.append("\n")
                title.append_text(extra)
            return title
        text = Text.assemble(
            title,
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

    def _news(self, extra: Text, *, fixed: bool | None = None) -> None:
        banner = self.query_one(DemoBanner)
        banner.update(self._story(extra))
        banner.set_class(fixed is True, "-fixed")
        banner.set_class(fixed is False, "-failed")

    # -- scenarios, switched in place --------------------------------------------------------------------

    def action_scenarios(self) -> None:
        def chosen(name: str | None) -> None:
            if name and name != self.scenario.name:
                self.open_scenario(name)

        self.push_screen(ScenarioMenu(self.scenario.name), chosen)

    def action_next_scenario(self) -> None:
        names = [s.name for s in SCENARIOS]
        self.open_scenario(names[(names.index(self.scenario.name) + 1) % len(names)])

    @work(exclusive=True, group="scenario")
    async def open_scenario(self, name: str) -> None:
        """Stop this scenario's npm, session and world; start the next ones; keep the screen."""
        if self.switching:
            return
        self.switching = True
        try:
            self._news(Text(f"Opening {name}…", style="bold"))
            old_session, old_world = self.session, self.world
            if old_session is not None:
                await old_session.stop_npm()
                await asyncio.to_thread(old_session.stop)
            await asyncio.to_thread(old_world.stop)
            self.store.clear()
            world = self.lab.world(BY_NAME[name])
            session = await asyncio.to_thread(_start_world, world, self.store)
            self.world, self.fixed = world, None
            self.attach_session(session)
            self._news(Text(""), fixed=None)
            self._run_npm()
        except InspectorError as e:
            self.notify(f"The scenario could not start: {e}", severity="error", timeout=15)
        finally:
            self.switching = False

    # -- the fix ---------------------------------------------------------------------------------------------

    def action_apply_fix(self) -> None:
        if self.session is not None and self.session.running:
            self.notify("npm is still running: wait for it to finish.", severity="warning")
            return
        finding = fixable(self.findings)
        if finding is None:
            message = "Nothing to fix here: this is what a healthy install looks like." if not self.findings else "This finding has no config change to apply."
            self.notify(message)
            return
        self._news(Text(f"Applying the fix for {finding.rule}…", style="bold"))
        self._apply_and_rerun()

    @work(exclusive=True, group="fix")
    async def _apply_and_rerun(self) -> None:
        try:
            applied = await asyncio.to_thread(apply_fix, self.world, self.findings)
        except InspectorError as e:
            self.notify(f"The fix could not be applied: {e}", severity="error")
            return
        if applied is None:
            self.notify("The fix needs a value the demo does not know.", severity="error")
            return
        self._news(Text.assemble(("Applied: ", "bold"), "; ".join(applied.commands), (" — running npm again…", "dim")))
        worker = self._run_npm()
        await worker.wait()
        record = worker.result
        if record is None:
            return
        self.fixed = record.exit_code == 0
        verdict = Text.assemble(
            (f"✓ Fixed: npm exited {record.exit_code} after " if self.fixed else f"✗ npm still exits {record.exit_code} after ", "bold"),
            "; ".join(applied.commands),
            (" (only this demo's temporary npm config was changed)", "dim"),
        )
        self._news(verdict, fixed=self.fixed)

    async def action_quit_inspector(self) -> None:
        if self.session is not None:
            self.notify("Stopping npm, the proxy and the demo's corporate network…")
            await self.session.stop_npm()
            await asyncio.to_thread(self.session.stop)
        await asyncio.to_thread(self.world.stop)
        self.exit(0)


def _start_world(world: DemoWorld, store: SessionStore | None = None) -> SessionLifecycle:
    """The world's corporate proxy and npm-inspect's session start side by side (both take a moment)."""
    from concurrent.futures import ThreadPoolExecutor

    session = session_for(world, store)
    with ThreadPoolExecutor(2) as pool:
        world.start_proxy()
        world.write_npmrc()
        starting = pool.submit(session.start)
        pool.submit(world.wait_for_proxy).result()
        starting.result()
    return session


def start_scenario(lab: DemoLab, name: str) -> tuple[DemoWorld, SessionLifecycle]:
    """The first scenario's world and running session, before the dashboard opens."""
    world = lab.world(BY_NAME[name])
    return world, _start_world(world)

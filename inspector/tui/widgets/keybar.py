"""The key bar: Textual's footer, showing as many keys as the width allows, most important first.

Textual's own footer lays every shown binding out in a row and cuts off what
does not fit (at 80 columns, "Help" and "Quit" fall off the end). Here each
binding has a rank (the app's ``KEY_PRIORITY``, a list of action names); keys
are taken in that order while they fit, then shown in the order they are
bound, so a key does not jump around when the terminal grows. ``?`` (help,
which lists every key) is always among them.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not re-exported by textual.widgets; the footer is built from it

COMPACT_BELOW = 120
"""Narrower terminals get the compact style (less padding per key)."""
PALETTE_WIDTH = 12
"""Room the command palette key (``^p palette``) takes on the right."""


def key_cost(key_display: str, description: str, compact: bool) -> int:
    """Cells one key takes in the footer (its text, padding and margin)."""
    if compact:  # "key description" + margin-right 1
        return len(key_display) + 1 + len(description) + 1
    return 1 + len(key_display) + 1 + len(description) + 1  # " key " + "description "


def fit(items: Iterable[tuple[str, str, str]], ranks: dict[str, int], width: int, compact: bool) -> list[str]:
    """The actions to show: ``items`` are (action, key display, description) in binding order.

    Actions are taken by rank (lower first; unranked ones after, in binding
    order) while they fit in ``width``; the result keeps binding order.
    """
    items = list(items)
    order = sorted(range(len(items)), key=lambda i: (ranks.get(items[i][0], len(ranks) + i), i))
    chosen: set[int] = set()
    used = 0
    for i in order:
        _, key, description = items[i]
        cost = key_cost(key, description, compact)
        if used + cost <= width:
            chosen.add(i)
            used += cost
    return [items[i][0] for i in sorted(chosen)]


class KeyBar(Footer):
    """A footer that adapts to the width: the most important keys first, ``?`` help always."""

    def __init__(self, priority: Iterable[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.priority = {action: rank for rank, action in enumerate(priority)}
        self._laid_out_for = 0

    def _shown(self) -> list[tuple[Binding, bool, str]]:
        """One (binding, enabled, tooltip) per action that has a footer description, in binding order."""
        seen: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen[binding.action] = (binding, enabled, tooltip)
        return list(seen.values())

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.app.size.width
        self._laid_out_for = width
        compact = width < COMPACT_BELOW
        self.compact = compact
        shown = self._shown()
        palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and width >= 100
        budget = width - (PALETTE_WIDTH if palette else 0) - 1
        keep = set(
            fit(((b.action, self.app.get_key_display(b), b.description) for b, _, _ in shown), self.priority, budget, compact)
        )
        for binding, enabled, tooltip in shown:
            if binding.action in keep:
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip,
                ).data_bind(compact=Footer.compact)
        if palette:
            try:
                _node, binding, enabled, _tooltip = self.screen.active_bindings[self.app.COMMAND_PALETTE_BINDING]
            except KeyError:
                return
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )

    @property
    def keys(self) -> list[str]:
        """The key displays shown now (for tests)."""
        return [key.key_display for key in self.query(FooterKey) if not key.has_class("-command-palette")]

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and self.app.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)

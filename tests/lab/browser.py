"""A real browser for the lab: Debian's Chromium driven by Playwright, reading what a served terminal receives.

textual-serve draws the terminal on a canvas (xterm.js), so the page's DOM
holds no terminal text. What the page *receives* is the truth: the binary
websocket frames carry the dashboard's terminal output. :class:`ServedPage`
collects them, decodes them and strips the escape sequences, so a test can
wait for words to appear on the served screen (or check that a secret never
does).

Playwright's own browser download cannot work here; it drives the system
Chromium (``apt-get install chromium``). Chromium's background connections
are switched off, and its resolver answers only the names a test maps (every
other name is NOTFOUND), so nothing leaves the machine.
"""

from __future__ import annotations

import codecs
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .fixtures import _require

__all__ = ["ServedPage", "chromium_path", "require_browser", "served_page", "served_text", "terminal_text"]

CHROMIUM_ARGS = [
    "--no-sandbox",  # as root Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]

_CURSOR_MOVE = re.compile(r"\x1b\[[0-9;]*[Hf]")
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor, modes)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC (title, clipboard) up to BEL or ST
    r"|\x1bP[^\x1b]*\x1b\\"  # DCS
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|\x1b[()][0-9A-Za-z]"  # charset selection
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def require_browser() -> str:
    """The system Chromium's path; a missing Chromium or Playwright fails the test with the command that installs it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _require(False, "Playwright for Python (pip install playwright; never 'playwright install': it drives the system Chromium)")
    path = chromium_path()
    _require(path is not None, "Chromium (apt-get install chromium)")
    assert path is not None
    return path


def terminal_text(data: str) -> str:
    """Terminal output as text: cursor jumps become line breaks, every other escape sequence is dropped."""
    return _ESCAPES.sub("", _CURSOR_MOVE.sub("\n", data))


class ServedPage:
    """A textual-serve page open in Chromium: the terminal output it received, and keys to type into it."""

    def __init__(self, page: Any):
        self.page = page
        self.response: Any = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._raw: list[str] = []
        self.websocket_urls: list[str] = []
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, websocket: Any) -> None:
        self.websocket_urls.append(websocket.url)
        websocket.on("framereceived", self._on_frame)

    def _on_frame(self, payload: str | bytes) -> None:
        # binary frames are the terminal's output; text frames are textual-serve's JSON (pong, open_url)
        if isinstance(payload, bytes):
            self._raw.append(self._decoder.decode(payload))

    def raw(self) -> str:
        """Everything the terminal received so far, escape sequences included."""
        return "".join(self._raw)

    def text(self) -> str:
        """Everything the terminal received so far, as text (see :func:`terminal_text`)."""
        return terminal_text(self.raw())

    def mark(self) -> int:
        """A position in the raw stream, for :meth:`text_since`."""
        return len(self.raw())

    def text_since(self, mark: int) -> str:
        return terminal_text(self.raw()[mark:])

    def pump(self, ms: float = 50) -> None:
        """Let Playwright deliver events (the sync API dispatches them only while it waits)."""
        self.page.wait_for_timeout(ms)

    def wait_for_text(self, *words: str, timeout: float = 30, since: int = 0) -> str:
        """Wait until every word has been received (after ``since``); return the text. Fails naming what is missing."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text_since(since)
            missing = [w for w in words if w not in text]
            if not missing:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"the served terminal never showed {missing!r} within {timeout:g}s; it showed:\n{text[-3000:]}")
            self.pump()

    def press(self, *keys: str) -> None:
        """Type keys into the terminal (Playwright key names: ``d``, ``Enter``, ``Home``…)."""
        self.page.focus(".xterm-helper-textarea")
        for key in keys:
            self.page.keyboard.press(key)

    def goto_status(self, url: str) -> int:
        """Navigate this page to ``url``; the HTTP status of the answer."""
        self.response = self.page.goto(url)
        return self.response.status

    def probe_websocket(self, url: str, timeout: float = 10) -> str:
        """Open a websocket to ``url`` from this page's origin: ``"open"`` or ``"refused"``. An open one stays open."""
        return self.page.evaluate(
            """([url, timeout]) => new Promise(resolve => {
                const ws = new WebSocket(url);
                window.__probes = (window.__probes || []).concat([ws]);
                ws.onopen = () => resolve("open");
                ws.onerror = () => resolve("refused");
                ws.onclose = () => resolve("refused");
                setTimeout(() => resolve("timeout"), timeout);
            })""",
            [url, timeout * 1000],
        )


def _resolver_rules(resolve: Mapping[str, str]) -> str:
    rules = [f"MAP {name} {address}" for name, address in resolve.items()]
    return ", ".join([*rules, "MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1", "EXCLUDE localhost"])


def _answer_with(html: str) -> Callable[[Any], None]:
    def answer(route: Any) -> None:
        route.fulfill(status=200, content_type="text/html", body=html)

    return answer


@contextmanager
def served_page(
    url: str | None,
    *,
    size: tuple[int, int] = (1280, 800),
    resolve: Mapping[str, str] | None = None,
    routes: Mapping[str, str] | None = None,
) -> Iterator[ServedPage]:
    """Chromium (fresh profile) with one page at ``url`` (``None``: blank); closed on exit.

    ``resolve`` maps host names to loopback addresses for this browser only
    (``{"evil.example": "127.0.0.1"}``), every other name fails to resolve.
    ``routes`` answers the given URLs with the given HTML without any network
    (an attacker's page at a name of the test's choosing).
    """
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={_resolver_rules(resolve or {})}"],
        )
        try:
            context = browser.new_context(viewport={"width": size[0], "height": size[1]})
            for pattern, html in (routes or {}).items():
                context.route(pattern, _answer_with(html))
            served = ServedPage(context.new_page())
            if url is not None:
                served.response = served.page.goto(url)
            yield served
        finally:
            browser.close()


def served_text(
    url: str,
    *,
    until: Sequence[str] = ("npm-inspect",),
    steps: Sequence[tuple[str, Sequence[str]]] = (),
    timeout: float = 30,
) -> str:
    """Open a served dashboard, wait for the words ``until``, then for each ``(key, words)`` step press the key and
    wait for those words to arrive; return all the text the terminal received.

    The text is everything the page received over its websocket, decoded,
    escape sequences stripped: use it to check what the served page shows (or
    never shows), e.g. ``steps=[("d", ["Evidence"]), ("o", ["npm config"])]``.
    """
    with served_page(url) as page:
        page.wait_for_text(*until, timeout=timeout)
        for key, words in steps:
            mark = page.mark()
            page.press(key)
            page.wait_for_text(*words, timeout=timeout, since=mark)
        return page.text()

"""What npm itself said when it ended, and the facts about the run that explain it.

Some failures never reach the wire: npm refuses its config (``ERR_INVALID_AUTH``),
a version range no registry version satisfies (``ETARGET``), npm 12 refuses a
lockfile's foreign tarball URLs (``EALLOWREMOTE``). Only npm's own words explain
those, so every run keeps them here: the exit status, npm's error code and
message, its warnings, and the requests npm says failed.

Where the words come from (measured with npm 11.19 and 12.2):

- **npm's debug log.** npm writes every run's log to
  ``<logs-dir>/<start time>-debug-0.log`` (``logs-dir`` defaults to
  ``<cache>/_logs``) and prints that path when it fails. The log holds the same
  ``error``/``warn`` lines npm printed, so it explains a run even when npm's
  output went straight to the user's terminal (``npm-inspect run`` keeps npm's
  TTY: prompts, progress, colours). npm-inspect does not change where npm logs.
- **npm's output**, when npm-inspect captured it (``run --report json``, the
  dashboard): used when there is no log (``logs-max=0``, an unwritable cache).

Everything kept is redacted (:mod:`inspector.redact`) and capped.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from collections.abc import Callable
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .redact import redact_text

logger = logging.getLogger(__name__)

MAX_LINES = 24
MAX_LINE = 400
LOG_TAIL_BYTES = 512 * 1024
"""Only the end of a long debug log is read: npm writes its error there."""
LOCKFILE_LIMIT = 32 * 1024 * 1024
LOCKFILES = ("npm-shrinkwrap.json", "package-lock.json")

_OUTPUT_LINE = re.compile(r"^npm (error|ERR!|warn|WARN) ?(.*)$")
_LOG_LINE = re.compile(r"^\d+ (error|warn|http|verbose|info|notice|silly|timing) (.*)$")
_LOG_NAME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d_\d{3}Z)-debug-(\d+)\.log$")
_COMPLETE_LOG = re.compile(r"A complete log of this run can be found in:\s*(\S.*)$")
_FETCH_FAILED = re.compile(r"^fetch (\S+ \S+) attempt \d+ failed with (\S+)")


@dataclass(frozen=True)
class NpmOutcome:
    """npm's exit status and words, and what npm-inspect learnt around them. Redacted; safe to save and show."""

    exit_code: int | None = None
    code: str | None = None
    """npm's error code: ``E404``, ``ETARGET``, ``ERR_INVALID_AUTH``, ``EPROTO``, ``FETCH_ERROR``…"""
    message: tuple[str, ...] = ()
    """npm's error lines after the code, without the ``npm error`` prefix."""
    warnings: tuple[str, ...] = ()
    fetch_failures: tuple[str, ...] = ()
    """``GET <url> → <code>`` for each request npm's log says failed."""
    source: str = ""
    """Where the words were read: ``npm's debug log``, ``npm's output``, or empty (exit status only)."""
    log_file: str | None = None
    lockfile: str | None = None
    """The lockfile of the project npm ran in, if any."""
    lockfile_hosts: tuple[tuple[str, int], ...] = ()
    """(registry URL prefix such as ``https://old.corp/repository/npm/``, number of ``resolved`` URLs) in that lockfile."""
    versions: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]], ...] = ()
    """(package, versions, dist-tags) from package documents the registry sent in this run."""

    @property
    def failed(self) -> bool:
        return bool(self.exit_code)

    @property
    def headline(self) -> str:
        """``E404 — 404 Not Found - GET …``: npm's code and first line, for titles."""
        first = next((line for line in self.message if line.strip()), "")
        if self.code and first:
            return f"{self.code} — {first}"
        return self.code or first or (f"exit status {self.exit_code}" if self.exit_code is not None else "")

    def text(self) -> str:
        """npm's error message as one string (lines joined with newlines)."""
        return "\n".join(self.message)

    def versions_of(self, package: str) -> tuple[tuple[str, ...], dict[str, str]] | None:
        for name, versions, tags in self.versions:
            if name == package:
                return versions, dict(tags)
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "NpmOutcome | None":
        if not isinstance(data, dict):
            return None
        return cls(
            exit_code=None if data.get("exit_code") is None else int(data["exit_code"]),
            code=data.get("code"),
            message=tuple(str(x) for x in data.get("message") or ()),
            warnings=tuple(str(x) for x in data.get("warnings") or ()),
            fetch_failures=tuple(str(x) for x in data.get("fetch_failures") or ()),
            source=str(data.get("source") or ""),
            log_file=data.get("log_file"),
            lockfile=data.get("lockfile"),
            lockfile_hosts=tuple((str(h), int(n)) for h, n in data.get("lockfile_hosts") or ()),
            versions=tuple(
                (str(name), tuple(str(v) for v in versions), tuple((str(k), str(v)) for k, v in tags))
                for name, versions, tags in data.get("versions") or ()
            ),
        )


# -- npm's words -----------------------------------------------------------------------------


@dataclass
class _Words:
    code: str | None = None
    message: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fetch_failures: list[str] = field(default_factory=list)
    log_file: str | None = None

    def add_error(self, text: str) -> None:
        if match := _COMPLETE_LOG.search(text):
            self.log_file = match.group(1).strip()
            return
        if text.startswith("code ") and self.code is None:
            self.code = text[5:].strip() or None
            return
        if text.startswith(("errno ", "syscall ")) or (not text.strip() and not self.message):
            return
        if len(self.message) < MAX_LINES:
            self.message.append(_clean(text))

    def add_warning(self, text: str) -> None:
        line = _clean(text)
        if line and line not in self.warnings and len(self.warnings) < MAX_LINES:
            self.warnings.append(line)


def _clean(text: str) -> str:
    return redact_text(text.rstrip())[:MAX_LINE]


def read_output(text: str) -> _Words:
    """npm's ``npm error``/``npm warn`` lines from its captured output (npm ≤ 8's ``npm ERR!`` too)."""
    words = _Words()
    for raw in _strip_ansi(text or "").splitlines():
        match = _OUTPUT_LINE.match(raw.strip("\r"))
        if not match:
            continue
        level, rest = match.group(1).lower(), match.group(2)
        if level in ("error", "err!"):
            words.add_error(rest)
        else:
            words.add_warning(rest)
    _trim(words)
    return words


def read_debug_log(text: str) -> _Words:
    """The same words from npm's debug log (``<n> error …``, ``<n> warn …``, ``<n> http fetch …``)."""
    words = _Words()
    for raw in (text or "").splitlines():
        match = _LOG_LINE.match(raw)
        if not match:
            continue
        level, rest = match.group(1), match.group(2)
        if level == "error":
            words.add_error(rest)
        elif level == "warn":
            words.add_warning(rest)
        elif level == "http" and (failed := _FETCH_FAILED.match(rest)):
            entry = _clean(f"{failed.group(1)} → {failed.group(2)}")
            if entry not in words.fetch_failures and len(words.fetch_failures) < MAX_LINES:
                words.fetch_failures.append(entry)
    _trim(words)
    return words


def _trim(words: _Words) -> None:
    while words.message and not words.message[-1].strip():
        words.message.pop()


# -- the other tools' words ---------------------------------------------------------------------

TOOL_LABELS = {"pnpm": "pnpm", "yarn-classic": "yarn", "yarn-berry": "yarn", "bun": "bun"}


def read_tool_output(tool: str, text: str) -> _Words:
    """pnpm's, yarn's or bun's error lines (they write no debug log): see the per-tool readers below."""
    reader = {"pnpm": _pnpm_words, "yarn-classic": _yarn_classic_words, "yarn-berry": _yarn_berry_words, "bun": _bun_words}.get(tool)
    words = reader(_strip_ansi(text or "").splitlines()) if reader else _Words()
    _trim(words)
    return words


_PNPM_CODE = re.compile(r"\b(ERR_PNPM_[A-Z0-9_]+)\b")
_BOX = re.compile(r"^[\s│├└╰─▶×]*(?:help:\s*)?")
_JS_ERROR = re.compile(r"^(?:Uncaught )?([A-Z]\w*Error): (.+)$")
_BUN_CODE = re.compile(r"^((?=[A-Za-z0-9]*[a-z])(?:[A-Z][a-z0-9]*){2,}[A-Za-z0-9]*|[A-Z][A-Z0-9]*_[A-Z0-9_]+)\b")
"""bun's error names: ``ProxyConnectFailed``, ``DNSResolveFailed``, ``SELF_SIGNED_CERT_IN_CHAIN`` (not ``No version…``)."""
_BERRY_LINE = re.compile(r"^(?:➤\s*)?(YN\d{4}):\s*(.*)$")


_PNPM_MARKS = ("×", "╰", "├", "│", "help:")


def _pnpm_words(lines: list[str]) -> _Words:
    """pnpm 12 (native): ``Error: ERR_PNPM_FETCH_401`` then ``× what`` / ``╰─▶ why`` / ``help: …``, wrapped at 80
    columns (a line that starts with none of those marks continues the one before); the older JS pnpm:
    `` ERR_PNPM_FETCH_401  GET … Unauthorized - 401``; warnings ``WARN …``."""
    words = _Words()
    entries: list[str] = []
    actions: list[str] = []  # "× installing dependencies": what failed, after why it failed
    started = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(("WARN", "Warning:")):
            words.add_warning(stripped.split(None, 1)[1] if " " in stripped else stripped)
            continue
        if stripped.startswith("Error:"):
            started = True
            stripped = stripped[6:].strip()
        code = _PNPM_CODE.search(stripped)
        if code and words.code is None:
            words.code = code.group(1)
            started = True
            stripped = stripped[code.end():].strip(" :")
        if not started or not stripped:
            continue
        if stripped.startswith("×"):
            actions.append(_BOX.sub("", stripped).strip())
        elif stripped.startswith(_PNPM_MARKS) or not entries:
            entries.append(_BOX.sub("", stripped).strip())
        else:
            entries[-1] += ("" if entries[-1].endswith(("/", "-")) else " ") + stripped
    for text in [*entries, *actions]:
        if text and len(words.message) < MAX_LINES:
            words.message.append(_clean(text))
    return words


def _yarn_classic_words(lines: list[str]) -> _Words:
    """yarn 1: ``error <message>`` (its stack trace indented below), ``warning …``; a crash prints ``XxxError: …``."""
    words = _Words()
    crash: list[str] = []
    for line in lines:
        if line.startswith("error "):
            text = line[6:].strip()
            if text.startswith("Error: "):
                text = text[7:]
            words.add_error(text) if not text.startswith("code ") else None
        elif line.startswith("warning "):
            words.add_warning(line[8:])
        elif (match := _JS_ERROR.match(line.strip())) and not line.startswith(" "):
            crash.append(f"{match.group(1)}: {match.group(2)}")
    if not words.message:
        words.message.extend(_clean(c) for c in crash[:MAX_LINES])
    return words


def _yarn_berry_words(lines: list[str]) -> _Words:
    """yarn berry: ``➤ YN0041: │ pkg@npm:1.0.0: Invalid authentication``; ``YN0000`` lines are progress. The first
    other code is the error's (warnings share the format; only colour tells them apart)."""
    words = _Words()
    for line in lines:
        match = _BERRY_LINE.match(line.strip())
        if not match or match.group(1) == "YN0000":
            continue
        code, text = match.group(1), match.group(2).lstrip("│├└┌ ").strip()
        if words.code is None:
            words.code = code
        if text and len(words.message) < MAX_LINES:
            words.message.append(_clean(f"{code}: {text}"))
    return words


def _bun_words(lines: list[str]) -> _Words:
    """bun: ``error: ProxyConnectFailed (407) downloading package manifest lab-hello``, ``warn: …``."""
    words = _Words()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("error:"):
            text = stripped[6:].strip()
            if words.code is None and (match := _BUN_CODE.match(text)):
                words.code = match.group(1)
            if text and len(words.message) < MAX_LINES:
                words.message.append(_clean(text))
        elif stripped.startswith("warn:"):
            words.add_warning(stripped[5:].strip())
    return words


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


# -- npm's debug log ---------------------------------------------------------------------------


def logs_dir(effective: dict[str, Any]) -> Path | None:
    """Where npm writes its debug logs: ``logs-dir``, else ``<cache>/_logs`` (npm's own rule)."""
    configured = effective.get("logs-dir")
    if isinstance(configured, str) and configured:
        return Path(configured).expanduser()
    cache = effective.get("cache")
    if isinstance(cache, str) and cache:
        return Path(cache).expanduser() / "_logs"
    return None


def _log_started(name: str) -> float | None:
    match = _LOG_NAME.match(name)
    if not match:
        return None
    stamp = match.group(1)  # 2026-11-29T18_23_08_382Z: npm's start time, UTC
    try:
        parsed = time.strptime(stamp[:19], "%Y-%m-%dT%H_%M_%S")
    except ValueError:
        return None
    import calendar

    return calendar.timegm(parsed) + int(stamp[20:23]) / 1000


def find_debug_log(directory: Path | None, started: float, *, slack: float = 0.002) -> Path | None:
    """The first debug log npm started at or after ``started`` (epoch seconds) in ``directory``.

    The earliest one is npm itself: npm processes it spawns (lifecycle scripts
    running ``npm run``) start later and write their own logs, and npm-inspect's
    own ``npm config list`` calls ran before ``started``. The name carries npm's
    start time in milliseconds (UTC).
    """
    if directory is None:
        return None
    best: tuple[float, Path] | None = None
    try:
        entries = list(directory.iterdir())
    except OSError:
        return None
    for path in entries:
        if not path.name.endswith("-debug-0.log"):
            continue
        at = _log_started(path.name)
        if at is None or at < started - slack:
            continue
        if best is None or at < best[0]:
            best = (at, path)
    return best[1] if best else None


def _read_log(first: Path) -> str:
    """The debug log's text (its last part when long); npm splits a long log into -debug-1, -debug-2…"""
    prefix = first.name[: -len("0.log")]
    parts = sorted(
        (p for p in first.parent.glob(prefix + "*.log") if p.name[len(prefix) : -4].isdigit()),
        key=lambda p: int(p.name[len(prefix) : -4]),
    )
    chunks: list[str] = []
    budget = LOG_TAIL_BYTES
    for path in reversed(parts or [first]):
        try:
            with path.open("rb") as f:
                size = f.seek(0, 2)
                f.seek(max(0, size - budget))
                data = f.read(budget)
        except OSError:
            continue
        chunks.append(data.decode("utf-8", "replace"))
        budget -= len(data)
        if budget <= 0:
            break
    return "".join(reversed(chunks))


# -- the project's lockfile -------------------------------------------------------------------


def lockfile_hosts(project: Path | None) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    """(lockfile path, the registries its ``resolved`` URLs point at, with counts); ``(None, ())`` when there is none.

    A registry is named by the part of the URL before the package (``https://old.corp/repository/npm/`` for
    ``…/repository/npm/lodash/-/lodash-4.17.21.tgz``): that prefix is what ``replace-registry-host`` must match.
    """
    if project is None:
        return None, ()
    for name in LOCKFILES:
        path = project / name
        try:
            if not path.is_file() or path.stat().st_size > LOCKFILE_LIMIT:
                continue
            data = json.loads(path.read_text(errors="replace"))
        except (OSError, ValueError):
            continue
        counts: Counter[str] = Counter()
        for package, url in _resolved_urls(data):
            base = registry_base(url, package)
            if base:
                counts[base] += 1
        return str(path), tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return None, ()


def registry_base(url: str, package: str | None) -> str | None:
    """``https://host[:port]/prefix/`` of a tarball URL: everything before ``/<package>/-/``; ``None`` if not http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    path = parts.path
    if package:
        for shape in (f"/{package}/-/", f"/{package.replace('/', '%2f')}/-/", f"/{package.replace('/', '%2F')}/-/"):
            at = path.find(shape)
            if at >= 0:
                return origin + path[:at] + "/"
    at = path.find("/-/")
    if at >= 0:
        head = path[:at].rstrip("/")
        head = head[: head.rfind("/")] if "/" in head else ""
        if head.rsplit("/", 1)[-1].startswith("@"):
            head = head[: head.rfind("/")]
        return origin + head + "/"
    return origin + "/"


def _resolved_urls(data: Any) -> list[tuple[str | None, str]]:
    """(package name, resolved URL) for every entry of a lockfile (v2/v3 ``packages``, v1 ``dependencies``)."""
    urls: list[tuple[str | None, str]] = []
    if not isinstance(data, dict):
        return urls
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, entry in packages.items():
            if isinstance(entry, dict) and isinstance(entry.get("resolved"), str):
                name = entry.get("name") if isinstance(entry.get("name"), str) else key.rpartition("node_modules/")[2] or None
                urls.append((name, entry["resolved"]))
        return urls
    stack = [data.get("dependencies")]  # lockfile v1
    while stack:
        deps = stack.pop()
        if not isinstance(deps, dict):
            continue
        for key, entry in deps.items():
            if isinstance(entry, dict):
                if isinstance(entry.get("resolved"), str):
                    urls.append((key, entry["resolved"]))
                stack.append(entry.get("dependencies"))
    return urls


# -- putting it together ------------------------------------------------------------------------


def collect(
    exit_code: int | None,
    *,
    output: str | None = None,
    logs: Path | None = None,
    started: float | None = None,
    project: Path | None = None,
    versions: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]], ...] = (),
    tool: str = "npm",
) -> NpmOutcome:
    """Build the outcome of one run from its exit status, captured output (if any) and — npm only — debug log."""
    if tool != "npm":  # no debug log; and package-lock.json is npm's lockfile, not theirs
        words = read_tool_output(tool, output) if output else _Words()
        lockfile, hosts = None, ()
        return NpmOutcome(
            exit_code=exit_code,
            code=redact_text(words.code) if words.code else None,
            message=tuple(words.message),
            warnings=tuple(words.warnings),
            source=f"{TOOL_LABELS.get(tool, tool)}'s output" if output else "",
            lockfile=lockfile,
            lockfile_hosts=hosts,
            versions=versions,
        )
    from_output = read_output(output) if output else None
    log_path: Path | None = None
    if from_output is not None and from_output.log_file:
        log_path = Path(from_output.log_file)
    elif started is not None:
        log_path = find_debug_log(logs, started)
    from_log = None
    if log_path is not None:
        text = _read_log(log_path)
        if text:
            from_log = read_debug_log(text)
        else:
            logger.debug("no readable debug log at %s", log_path)
    words, source = _Words(), ""
    if from_log is not None and (from_log.code or from_log.message or from_log.warnings or from_log.fetch_failures):
        words, source = from_log, "npm's debug log"
        if from_output is not None and not words.message and from_output.message:
            words.message, words.code = from_output.message, words.code or from_output.code
    elif from_output is not None:
        words, source = from_output, "npm's output"
    lockfile, hosts = lockfile_hosts(project)
    return NpmOutcome(
        exit_code=exit_code,
        code=redact_text(words.code) if words.code else None,
        message=tuple(words.message),
        warnings=tuple(words.warnings),
        fetch_failures=tuple(words.fetch_failures),
        source=source,
        log_file=str(log_path) if log_path is not None and from_log is not None else None,
        lockfile=lockfile,
        lockfile_hosts=hosts,
        versions=versions,
    )


# -- package documents ------------------------------------------------------------------------------


def packages_named(outcome_words: str) -> list[str]:
    """Package names npm's error talks about (``No matching version found for lab-hello@^3.``)."""
    names = []
    shapes = (
        r"(?:for|of|fetch) \"?((?:@[\w.-]+/)?[\w.-]+)@",  # npm, pnpm: No matching version found for lab-hello@^3.
        r"(?:versions for|specifier) \"((?:@[\w.-]+/)?[\w.-]+)\"",  # yarn 1, bun
        r"((?:@[\w.-]+/)?[\w.-]+)@npm:",  # yarn berry: lab-hello@npm:^3.0.0: No candidates found
    )
    for shape in shapes:
        for match in re.finditer(shape, outcome_words):
            if match.group(1) not in names:
                names.append(match.group(1))
    return names


# -- after a run ----------------------------------------------------------------------------------------

Versions = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


class OutputTail:
    """Passes npm's output on and keeps its last part, to read npm's error lines afterwards."""

    LIMIT = 256 * 1024

    def __init__(self, passthrough: Callable[[str], None]) -> None:
        self.passthrough = passthrough
        self._chunks: list[str] = []
        self._size = 0

    def __call__(self, text: str) -> None:
        self.passthrough(text)
        self._chunks.append(text)
        self._size += len(text)
        while self._size > self.LIMIT and len(self._chunks) > 1:
            self._size -= len(self._chunks.pop(0))

    def text(self) -> str:
        return "".join(self._chunks)


def cached_versions(npm: str, package: str, *, env: dict[str, str], cwd: str | None) -> Versions | None:
    """The versions npm itself knows for ``package`` from its cache (``npm view --offline``: no request is made).

    When npm answered from its cache (or revalidated it with a 304), no package
    document crossed the inspector; npm's cache holds the one npm decided from.
    """
    program = npm if Path(npm).name.startswith("npm") and not Path(npm).name.startswith("npx") else "npm"
    try:
        result = subprocess.run(
            [program, "view", package, "versions", "dist-tags", "--json", "--offline"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        data = json.loads(result.stdout or "null") if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if isinstance(data, list):  # npm 12 prints a list (one entry per matching version)
        data = data[-1] if data else None
    if not isinstance(data, dict):
        return None
    found = data.get("versions")
    versions = (found,) if isinstance(found, str) else tuple(str(v) for v in found or ())
    tags = data.get("dist-tags")
    return versions, tuple((str(k), str(v)) for k, v in tags.items()) if isinstance(tags, dict) else ()


def outcome_of_run(
    exit_code: int,
    *,
    output: str | None,
    effective: dict[str, Any],
    project: Path,
    started: float,
    documents: Callable[[str], Versions | None],
    npm: str,
    env: dict[str, str],
    cwd: str | None,
    tool: str = "npm",
) -> NpmOutcome:
    """npm's words (output and/or debug log), the project's lockfile registries, and for a failure, the versions
    the registry listed for the packages npm's error names (from the documents seen on the wire, else npm's cache).

    Never raises: reading npm's words must not cost the run its report.
    """
    try:
        outcome = collect(exit_code, output=output, logs=logs_dir(effective), started=started, project=project, tool=tool)
    except Exception:
        logger.exception("could not read npm's outcome")
        return NpmOutcome(exit_code=exit_code)
    if not outcome.failed:
        return outcome
    found = []
    for name in packages_named(outcome.text())[:5]:
        listed = documents(name) or (cached_versions(npm, name, env=env, cwd=cwd) if tool == "npm" else None)
        if listed is not None:
            found.append((name, *listed))
    return replace(outcome, versions=tuple(found)) if found else outcome

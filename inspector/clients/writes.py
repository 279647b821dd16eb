"""Writing a fix into a package manager's own config file (the dashboard's ``w``): where, and how each format is edited.

Each adapter's ``write_target(change, config)`` says which file a change belongs in
— the file that sets the key today when it is at the change's location (so the
write takes effect), else the file the tool's own ``config set`` would write — and
the key's name there. This module edits the four formats those files use:

- ``npmrc``: ``key=value`` lines (npm, pnpm's ``.npmrc``/``auth.ini``, the ``.npmrc`` yarn 1 and bun read tokens from);
- ``yarnrc``: yarn 1's ``key "value"`` lines;
- ``yaml``: ``.yarnrc.yml`` (setting paths such as ``npmScopes.corp.npmRegistryServer``) and pnpm's
  ``pnpm-workspace.yaml``/``config.yaml``, edited round-trip so comments and order survive;
- ``toml``: ``bunfig.toml`` (``install.registry``, ``install.scopes.corp``), edited line by line so the rest of
  the file is left as the user wrote it.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import ClientConfigError
from .yamlfiles import toml_key, toml_string

Format = Literal["npmrc", "yarnrc", "yaml", "toml"]


@dataclass(frozen=True)
class WriteTarget:
    """Where one change is written: a file, its format and the key's name in it — or why it cannot be."""

    path: Path | None
    format: Format = "npmrc"
    key: str = ""
    """The key in that file: npm's name (npmrc, yarnrc), a setting path (yaml), ``table.key`` (toml)."""
    unsupported: str | None = None
    """Set when the tool keeps this setting nowhere a file can hold it (bun's proxies: the environment only)."""
    env_reference: str | None = None
    """How the file refers to an environment variable (``${NAME}``, ``$NAME``); ``None``: it cannot."""


def line_for(target: WriteTarget, value: str | None) -> str:
    """The line (or lines) ``w`` shows for one change in the target's own syntax (``value``: already masked)."""
    if value is None:
        return f"(delete {target.key})"
    if target.format == "npmrc":
        return f"{target.key}={value}"
    if target.format == "yarnrc":
        return yarnrc_line(target.key, value)
    if target.format == "yaml":
        return f"{target.key}: {json.dumps(value)}"
    table, _, key = target.key.rpartition(".")
    return f"[{table}] {toml_key(key)} = {toml_string(value)}"


def yarnrc_line(key: str, value: str) -> str:
    return f"{json.dumps(key) if not key.replace('-', '').isalnum() else key} {json.dumps(value)}"


def edit_text(fmt: Format, text: str, edits: list[tuple[str, str | None]], *, path: Path | None = None) -> str:
    """``text`` in ``fmt`` with each (key, value) set — or removed when the value is ``None``."""
    if fmt == "npmrc":
        return _edit_lines(text, edits, lambda k, v: f"{k}={v}", _npmrc_key)
    if fmt == "yarnrc":
        return _edit_lines(text, edits, yarnrc_line, _yarnrc_key)
    if fmt == "yaml":
        return _edit_yaml(text, edits, path)
    return _edit_toml(text, edits, path)


_NPMRC_KEY = re.compile(r"^\s*([^=;#\s][^=]*?)\s*=")


def _npmrc_key(line: str) -> str | None:
    match = _NPMRC_KEY.match(line)
    return match.group(1).strip() if match else None


def _yarnrc_key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or line[:1] in (" ", "\t"):
        return None
    if stripped.startswith('"'):
        end = stripped.find('"', 1)
        return stripped[1:end] if end > 0 else None
    return stripped.split(" ", 1)[0]


def _edit_lines(text: str, edits: list[tuple[str, str | None]], render, key_of) -> str:
    lines = text.splitlines()
    for key, value in edits:
        lines = [line for line in lines if key_of(line) != key]
        if value is not None:
            lines.append(render(key, value))
    return "\n".join(lines) + "\n"


def _round_trip() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def yaml_path(setting: str) -> list[str]:
    """``npmScopes.corp.npmRegistryServer`` → 3 parts; ``npmRegistries["//h:1/"].npmAuthToken`` keeps the URL whole."""
    match = re.match(r'^(\w+)\["([^"]+)"\]\.(\w+)$', setting)
    if match:
        return [match.group(1), match.group(2), match.group(3)]
    return setting.split(".")


def _edit_yaml(text: str, edits: list[tuple[str, str | None]], path: Path | None) -> str:
    yaml = _round_trip()
    try:
        data = yaml.load(text) if text.strip() else None
    except YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "syntax error"
        raise ClientConfigError(f"{path or 'the file'} is not valid YAML ({first}): fix it first, the package manager cannot read it either") from None
    if data is None:
        data = yaml.load("{}\n")
        data.fa.set_block_style()
    for setting, value in edits:
        parts = yaml_path(setting)
        node: Any = data
        for part in parts[:-1]:
            child = node.get(part)
            if not hasattr(child, "get"):
                if value is None:
                    node = None
                    break
                child = node[part] = yaml.load("{}\n")
                child.fa.set_block_style()
            node = child
        if node is None:
            continue
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_TOML_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=')


def _toml_line_key(line: str) -> str | None:
    match = _TOML_KEY.match(line)
    if not match:
        return None
    key = match.group(1)
    return json.loads(key) if key.startswith('"') else key


def _edit_toml(text: str, edits: list[tuple[str, str | None]], path: Path | None) -> str:
    """Set or remove ``table.key`` line by line; an inline-table scope (``corp = { url = …, token = … }``) keeps its
    other fields when only its URL changes."""
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ClientConfigError(f"{path or 'the file'} is not valid TOML ({e}): fix it first, bun cannot read it either") from None
    lines = text.splitlines()
    for dotted, value in edits:
        table, _, key = dotted.rpartition(".")
        current: Any = parsed
        for part in table.split("."):
            current = current.get(part, {}) if isinstance(current, dict) else {}
        old = current.get(key) if isinstance(current, dict) else None
        rendered = None
        if value is not None:
            if isinstance(old, dict) and "url" in old and table.endswith("scopes"):
                rendered = "{ " + ", ".join(f"{toml_key(k)} = {toml_string(str(v))}" for k, v in {**old, "url": value}.items()) + " }"
            else:
                rendered = toml_string(value)
        lines = _set_toml_line(lines, table, key, rendered)
        try:
            parsed = tomllib.loads("\n".join(lines) + "\n")
        except tomllib.TOMLDecodeError:  # a shape this line editor does not know (dotted keys, inline tables)
            raise ClientConfigError(
                f"{path or 'the file'} defines {dotted} in a way npm-inspect cannot edit safely: make the change by hand"
            ) from None
    return "\n".join(lines).rstrip("\n") + "\n"


def _table_span(lines: list[str], table: str) -> tuple[int, int] | None:
    """(header line, end) of ``[table]`` in ``lines``: the end is the next table's header or the end of the file."""
    start: int | None = None
    for i, line in enumerate(lines):
        match = _TABLE.match(line)
        if not match:
            continue
        if start is not None:
            return start, i
        if match.group(1).replace(" ", "") == table:
            start = i
    return (start, len(lines)) if start is not None else None


def _set_toml_line(lines: list[str], table: str, key: str, rendered: str | None) -> list[str]:
    """``lines`` with ``key = rendered`` in ``[table]`` (replaced, added at the table's end, or the table appended);
    ``rendered=None`` removes the key."""
    span = _table_span(lines, table)
    if span is None:
        if rendered is None:
            return lines
        return [*lines, *([""] if lines and lines[-1].strip() else []), f"[{table}]", f"{toml_key(key)} = {rendered}"]
    start, end = span
    new = list(lines)
    found = next((i for i in range(start + 1, end) if _toml_line_key(lines[i]) == key), None)
    if found is not None:
        if rendered is None:
            del new[found]
        else:
            new[found] = f"{toml_key(key)} = {rendered}"
        return new
    if rendered is None:
        return lines
    insert = end
    while insert > start + 1 and not new[insert - 1].strip():
        insert -= 1  # before the blank lines that separate it from the next table
    new.insert(insert, f"{toml_key(key)} = {rendered}")
    return new


__all__ = ["Format", "WriteTarget", "edit_text", "line_for", "yaml_path", "yarnrc_line"]

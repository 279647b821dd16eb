"""Reading and writing the YAML and TOML config files of pnpm, yarn berry and bun.

YAML through ruamel.yaml (already installed with mitmproxy; its safe loader
builds plain dicts and runs no tags), TOML through the standard ``tomllib``.
A file that cannot be parsed raises :class:`~inspector.errors.ClientConfigError`
naming the file: the tool itself would refuse it too.
"""

from __future__ import annotations

import io
import tomllib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import ClientConfigError


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping file as a dict ({} when missing or empty)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "syntax error"
        raise ClientConfigError(f"{path} is not valid YAML ({first}): fix it, the package manager cannot read it either") from None
    return data if isinstance(data, dict) else {}


def dump_yaml(data: dict[str, Any]) -> str:
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()


def load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ClientConfigError(f"{path} is not valid TOML ({e}): fix it, bun cannot read it either") from None


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for the characters that occur in URLs and paths)."""
    import json

    return json.dumps(value)


def toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else toml_string(key)

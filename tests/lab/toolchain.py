"""The lab's package managers (pinned in tests/lab/clients, installed by ``./dev test``): where their bins are.

yarn berry lives apart (clients/berry) because its bin is also named ``yarn``; a test puts the one bin
folder it means first on PATH.
"""

from __future__ import annotations

import os
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent / "clients"
BIN = {
    "pnpm": CLIENTS / "node_modules" / ".bin",
    "yarn-classic": CLIENTS / "node_modules" / ".bin",
    "bun": CLIENTS / "node_modules" / ".bin",
    "yarn-berry": CLIENTS / "berry" / "node_modules" / ".bin",
}
PROGRAM = {"pnpm": "pnpm", "yarn-classic": "yarn", "yarn-berry": "yarn", "bun": "bun", "npm": "npm"}
VERSIONS = {"pnpm": "12.4.2", "yarn-classic": "1.22.22", "yarn-berry": "4.18.1", "bun": "1.4.4"}


def installed(tool: str) -> bool:
    return tool == "npm" or (BIN[tool] / PROGRAM[tool]).exists()


def path_for(tool: str, base: str | None = None) -> str:
    """PATH with the tool's bin folder first (npm: unchanged)."""
    base = os.environ.get("PATH", "") if base is None else base
    return base if tool == "npm" else f"{BIN[tool]}{os.pathsep}{base}"


def tool_env(tool: str, home: Path, scratch: Path, **extra: str) -> dict[str, str]:
    """The environment a lab tool runs in: its bin first on PATH, its own HOME, XDG folders and caches under
    ``scratch``, no proxy variables, ``npm_config_*`` or extra CA from outside, no retries of a refused request."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and not k.lower().startswith("npm_config_") and k != "NODE_EXTRA_CA_CERTS"
    }
    env.update(
        PATH=path_for(tool),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(scratch / "cache"),
        XDG_DATA_HOME=str(scratch / "data"),
        XDG_STATE_HOME=str(scratch / "state"),
        YARN_CACHE_FOLDER=str(scratch / "yarn-cache"),
        BUN_INSTALL_CACHE_DIR=str(scratch / "bun-cache"),
        npm_config_cache=str(scratch / "npm-cache"),
        npm_config_fetch_retries="0",
        pnpm_config_fetch_retries="0",
    )
    env.update(extra)
    return env

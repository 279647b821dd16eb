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

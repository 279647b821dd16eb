"""Package-manager adapters: npm, pnpm, yarn classic, yarn berry and bun through the same inspector.

    detection = detect(argv, cwd, env)                 # which tool, flavour, version
    adapter = adapter_for(detection.tool)
    config = adapter.read_config(detection, argv, cwd=cwd, env=env)     # RawClientConfig (secrets: memory only)
    bundle = <adapter.trust_pems(config) + npm-inspect's CA, written owner-only>
    with adapter.inject(detection, argv, proxy_url=url, ca_bundle=bundle, config=config, env=env) as injection:
        subprocess.run(injection.argv, env=injection.child_env(env))
    config.snapshot()                                  # ClientConfigSnapshot: .config is an NpmConfigSnapshot
    adapter.fix_step(change)                           # a ConfigChange in the tool's own syntax

``config.raw`` is a :class:`~inspector.npmconfig.RawNpmConfig` in npm's key names, so
:func:`inspector.runner.resolve_upstream`, ``strict_ssl`` and the diagnosis rules work on every tool.
"""

from __future__ import annotations

from .bun import BunAdapter
from .common import (
    TOOL_NAMES,
    TOOLS,
    ClientAdapter,
    ClientConfigSnapshot,
    Detection,
    FixCopy,
    FixStep,
    Injection,
    RawClientConfig,
    Tool,
)
from .detect import detect, program_family
from .npm import NpmAdapter
from .pnpm import PnpmAdapter
from .yarn_berry import YarnBerryAdapter
from .yarn_classic import YarnClassicAdapter

ADAPTERS: dict[str, type] = {
    "npm": NpmAdapter,
    "pnpm": PnpmAdapter,
    "yarn-classic": YarnClassicAdapter,
    "yarn-berry": YarnBerryAdapter,
    "bun": BunAdapter,
}


def adapter_for(tool: str) -> ClientAdapter:
    """The adapter for a detected tool (``Detection.tool``)."""
    return ADAPTERS[tool]()


__all__ = [
    "ADAPTERS",
    "TOOLS",
    "TOOL_NAMES",
    "BunAdapter",
    "ClientAdapter",
    "ClientConfigSnapshot",
    "Detection",
    "FixCopy",
    "FixStep",
    "Injection",
    "NpmAdapter",
    "PnpmAdapter",
    "RawClientConfig",
    "Tool",
    "YarnBerryAdapter",
    "YarnClassicAdapter",
    "adapter_for",
    "detect",
    "program_family",
]

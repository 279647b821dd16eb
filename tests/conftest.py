"""Fixtures for every test: keep the developer's own npm and proxy setup out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_LEAKY = ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "node_extra_ca_certs")


@pytest.fixture(autouse=True, scope="session")
def not_a_ci_machine() -> Iterator[None]:
    """A CI machine is a developer's machine here: npm, pnpm and yarn read ``CI=true`` (ci-info) and change their
    behaviour (yarn berry then refuses to write a lockfile); ci-info's own switch turns that detection off.

    Session-wide, so that module fixtures (the tool table runs its cells in one) see it too.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CI", "false")
        yield


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No proxy variables, no npm_config_*, no real ~/.npmrc; npm-inspect's home in a temp dir."""
    for name in list(os.environ):
        if name.lower() in _LEAKY or name.lower().startswith("npm_config_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("npm-inspect-home")
    npmrc_dir = tmp_path_factory.mktemp("npmrc")
    (npmrc_dir / "user.npmrc").write_text("")
    (npmrc_dir / "global.npmrc").write_text("")
    monkeypatch.setenv("NPM_INSPECT_HOME", str(home))
    monkeypatch.setenv("npm_config_userconfig", str(npmrc_dir / "user.npmrc"))
    monkeypatch.setenv("npm_config_globalconfig", str(npmrc_dir / "global.npmrc"))
    monkeypatch.setenv("npm_config_update_notifier", "false")
    monkeypatch.setenv("NO_COLOR", "1")
    return home


pytest_plugins = ["tests.lab.fixtures"]

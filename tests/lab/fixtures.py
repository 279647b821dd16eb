"""pytest fixtures for the lab (registered in tests/conftest.py).

The suite needs the real programs: a missing Squid or Verdaccio fails the test
with the command that installs it, instead of silently skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import MIRROR_HOST, REGISTRY_HOST
from .npm import NPM12_BIN, NpmEnv
from .packages import Package, tree
from .pki import CertFiles, make_ca, make_server_cert
from .squid import SQUID, Squid, SquidConfig
from .verdaccio import LAB_DIR, USERS, Verdaccio, installed

ROOT = Path(__file__).resolve().parents[2]


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    message = f"{what} is missing: run ./dev test (it installs Squid, apache2-utils, Chromium, Playwright and Verdaccio)"
    if os.environ.get("NPM_INSPECT_ALLOW_SKIP"):
        pytest.skip(message)
    pytest.fail(message)


@dataclass(frozen=True)
class LabPki:
    ca: CertFiles
    registry: CertFiles


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d)
    return LabPki(ca=ca, registry=make_server_cert(d, ca, [REGISTRY_HOST, MIRROR_HOST, "127.0.0.1"], "registry"))


LAB_PACKAGES = [
    Package("lab-hello", "1.0.0"),
    Package("lab-hello", "1.1.0"),
    Package("@corp/secret", "1.0.0"),
]


@pytest.fixture(scope="session")
def verdaccio(tmp_path_factory: pytest.TempPathFactory, lab_pki: LabPki) -> Iterator[Verdaccio]:
    _require(installed(), f"Verdaccio (npm ci in {LAB_DIR})")
    _require(shutil.which("npm") is not None, "npm")
    registry = Verdaccio(tmp_path_factory.mktemp("verdaccio"), tls=lab_pki.registry, ca=lab_pki.ca.cert).start()
    try:
        root, leaves = tree(3, "lab-small")
        registry.publish(*LAB_PACKAGES, *leaves, root)
        yield registry
    finally:
        registry.stop()


@pytest.fixture
def squid_factory() -> Iterator[Callable[..., Squid]]:
    _require(Path(SQUID).exists() or shutil.which("squid") is not None, "Squid (apt-get install squid)")
    _require(shutil.which("htpasswd") is not None, "htpasswd (apt-get install apache2-utils)")
    started: list[Squid] = []

    def start(config: SquidConfig | None = None, **kwargs) -> Squid:
        squid = Squid(config or SquidConfig(**kwargs)).start()
        started.append(squid)
        return squid

    yield start
    for squid in started:
        squid.cleanup()


@pytest.fixture
def npm_env(tmp_path: Path, lab_pki: LabPki) -> NpmEnv:
    """An isolated npm whose config trusts the lab CA (the corporate CA of this lab)."""
    return NpmEnv(tmp_path / "npm", [f"cafile={lab_pki.ca.cert}"])


def _machine_npm_major() -> str:
    try:
        version = subprocess.run([shutil.which("npm") or "npm", "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return version.strip().split(".", 1)[0] or "?"


@pytest.fixture(params=["machine", "npm12"], ids=lambda p: "npm-machine" if p == "machine" else "npm12")
def npm_release(request: pytest.FixtureRequest) -> Path | None:
    """The npm a diagnosis scenario runs with: the machine's (npm 11 here) and the lab's npm 12.2 on node 22."""
    if request.param == "machine":
        return None
    _require((NPM12_BIN / "npm").exists() and (NPM12_BIN / "node").exists(), f"npm 12 (npm ci in {NPM12_BIN.parents[1]})")
    return NPM12_BIN


@pytest.fixture
def npm_any(tmp_path: Path, lab_pki: LabPki, npm_release: Path | None) -> NpmEnv:
    """:func:`npm_env` for each npm release the diagnosis suite covers."""
    return NpmEnv(tmp_path / "npm", [f"cafile={lab_pki.ca.cert}"], bin_dir=npm_release)


@dataclass
class InspectorRun:
    process: subprocess.CompletedProcess[str]
    report: dict | None

    @property
    def exit(self) -> int:
        return self.process.returncode

    def exchanges(self, **match) -> list[dict]:
        assert self.report is not None, self.process.stderr
        return [e for e in self.report["exchanges"] if all(e.get(k) == v for k, v in match.items())]

    def npm_error_code(self) -> str | None:
        return npm_error_code(self.process.stderr + self.process.stdout)


def npm_error_code(output: str) -> str | None:
    for line in output.splitlines():
        if line.startswith("npm error code "):
            return line.split()[-1]
    return None


def run_inspector(
    npm: NpmEnv, *args: str, npm_args: list[str], timeout: float = 180, report: str = "json", env: dict | None = None, program: str = "npm"
) -> InspectorRun:
    """``npm-inspect run --report json [args] -- npm …`` (or ``program``) as a real process in the npm env's project."""
    full_env = npm.env(**(env or {}))
    full_env["NPM_INSPECT_HOME"] = os.environ["NPM_INSPECT_HOME"]
    argv = [sys.executable, "-m", "inspector", "run", "--report", report, *args, "--", program, *npm_args]
    process = subprocess.run(argv, cwd=npm.project, env=full_env, capture_output=True, text=True, timeout=timeout)
    parsed = None
    if report == "json" and process.stdout.strip():
        try:
            parsed = json.loads(process.stdout)
        except ValueError:
            parsed = None
    assert_a_failure_has_a_finding(process.stdout, parsed, report)
    return InspectorRun(process, parsed)


def assert_a_failure_has_a_finding(stdout: str, parsed: dict | None, report: str) -> None:
    """npm-inspect's promise, checked on every e2e run: when npm exits non-zero, the report holds a finding."""
    if parsed is not None:
        exit_code = (parsed.get("npm") or {}).get("exit")
        if exit_code:
            assert parsed.get("findings"), f"npm exited {exit_code} and the JSON report has no finding: {parsed.get('exchanges')}"
        return
    if report == "text" and (match := re.search(r"^npm-inspect: .* → exit (-?\d+) ", stdout, re.M)):
        if int(match.group(1)):
            assert "Findings (root cause first):" in stdout and "No failures." not in stdout, stdout
    if report == "markdown" and (match := re.search(r"^- \*\*Command:\*\* .*\(exit (-?\d+)\)$", stdout, re.M)):
        if int(match.group(1)):
            assert "### 1. " in stdout and "No problems found." not in stdout, stdout


@pytest.fixture
def alice_token(verdaccio: Verdaccio) -> str:
    return verdaccio.tokens["alice"]


__all__ = ["USERS", "InspectorRun", "LabPki", "assert_a_failure_has_a_finding", "npm_error_code", "run_inspector"]

"""README commands are extracted and exercised, so the README cannot drift from the program."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from inspector.cli.parser import build_parsers, split_argv
from inspector.journal import JournalWriter
from inspector.runner import check_argv
from tests.tui.conftest import proxy_407_session

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def shell_blocks() -> list[list[str]]:
    return [
        [line.strip() for line in block.strip().splitlines() if line.strip() and not line.strip().startswith("#")]
        for block in re.findall(r"```sh\n(.*?)```", README, re.S)
    ]


def commands(prefix: str) -> list[str]:
    return [line for block in shell_blocks() for line in block if line.startswith(prefix)]


def test_the_readme_starts_with_exactly_the_two_setup_commands():
    before_first_heading = README.split("\n## ", 1)[0]
    first_block = shell_blocks()[0]
    assert first_block == ["./dev demo", "./dev test"]
    assert "```sh\n./dev demo\n./dev test\n```" in before_first_heading


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev test" in ci.split("\n", 3)[-1]


def test_every_dev_subcommand_in_the_readme_exists():
    script = (ROOT / "dev").read_text()
    known = set(re.findall(r"^    ([a-z-]+)\)$", script, re.M))
    for line in commands("./dev"):
        assert shlex.split(line)[1] in known, line


@pytest.fixture
def session_file(tmp_path):
    store, info = proxy_407_session()
    path = tmp_path / "SESSION.jsonl"
    JournalWriter(path, store, info, None).start().close()
    return path


def test_every_npm_inspect_command_in_the_readme_parses(session_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = commands("npm-inspect")
    assert len(lines) >= 13
    parsers = build_parsers()
    for line in lines:
        argv = [session_file.as_posix() if a == "SESSION.jsonl" else a for a in shlex.split(line)[1:]]
        command, options, npm_args = split_argv(argv)
        args = parsers[command].parse_args(options)
        if command in ("", "run") and npm_args:
            check_argv(npm_args)  # a package manager npm-inspect runs (npm, pnpm, yarn, bun)
        assert args is not None


def test_files_the_readme_names_exist():
    for line in commands("mitmdump") + commands(".venv/bin/python"):
        for word in shlex.split(line):
            if word.endswith(".py"):
                assert (ROOT / word).exists(), word
    for image in re.findall(r"\]\((screenshots/[^)]+)\)", README):
        assert (ROOT / image).exists(), image


def test_every_rule_is_in_the_catalogue():
    from inspector.diagnose.rules import RULE_IDS

    for rule in RULE_IDS:
        assert f"| `{rule}` |" in README, rule

"""The live dashboard closes the loop on one session: R runs npm again, x tries a finding's fix on a temporary
copy of npm's config through the same inspector, w writes a tried fix to the file it names — with the real npm,
Squid and Verdaccio."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from textual.widgets import Input

from inspector.filtering import parse
from inspector.lifecycle import SessionLifecycle
from inspector.runner import RunRequest
from inspector.tui.app import InspectorApp
from inspector.tui.screens import ConfirmScreen, ValuesScreen, WriteScreen
from tests.lab.squid import SquidConfig

pytestmark = pytest.mark.e2e

PASSWORD = "S3cret@pw:1"


async def wait(pilot, condition, seconds: float = 60.0, what: str = "the condition") -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{what} not met within {seconds} s")


def live_app(npm_env, *argv: str) -> tuple[InspectorApp, SessionLifecycle]:
    session = SessionLifecycle(RunRequest(argv=["npm", *argv], cwd=str(npm_env.project), env=npm_env.env()))
    session.start()
    return InspectorApp(session.store, session=session), session


def screen_text(app) -> str:
    """What the screen shows (the app's screen or the modal over it), as its SVG screenshot's text."""
    return app.export_screenshot()


def status_text(app) -> str:
    bar = app.status_bar
    return " ".join(bar.render_line(y).text for y in range(bar.size.height))


async def type_into(pilot, app, text: str) -> None:
    for char in text:
        await pilot.press(char if char != " " else "space")


async def test_R_runs_npm_again_as_the_next_run_of_the_same_session(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    app, session = live_app(npm_env, "view", "lab-hello", "version")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait(pilot, lambda: session.npm_state == "exit 0", what="the first run")
            port = session.proxy.port
            await pilot.press("R")
            await wait(pilot, lambda: len(session.runs) == 2 and session.runs[1].exit_code == 0, what="run 2")
            assert session.proxy.port == port  # the same inspector
            runs = {e.run for e in session.store.exchanges()}
            assert runs == {1, 2}
            await wait(pilot, lambda: len(app.view) == len(session.store), what="every row on screen")
            await pilot.pause(0.3)
            assert app.query_one("#table-header").render_line(0).text.split()[0] == "run"  # a run column once there are two
            app.view.set_filter(parse("run:2"))
            assert len(app.view) > 0 and all(e.run == 2 for e in app.view)
            assert "run 1: exit 0 — run 2: exit 0" in status_text(app)
    finally:
        session.stop()


@pytest.fixture
def login_proxy(npm_env, verdaccio, lab_pki, squid_factory):
    """Squid wants carol's login; npm's https-proxy names no user: 407, proxy-auth-required."""
    squid = squid_factory(SquidConfig(users={"carol": PASSWORD}))
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"proxy={squid.url}", f"https-proxy={squid.url}")
    return squid


async def try_the_fix(pilot, app, session) -> None:
    """x on the proxy-auth finding: the values screen asks for <user> and, masked, <password>; npm runs again."""
    await wait(pilot, lambda: session.npm_state == "exit 1" and app.findings, what="the 407 and its finding")
    assert app.findings[0].rule == "proxy-auth-required"
    await pilot.press("f", "x")
    await wait(pilot, lambda: isinstance(app.screen, ValuesScreen), what="the values screen")
    fields = {field.id: field for field in app.screen.query(Input)}
    assert fields["value-password"].password is True and fields["value-user"].password is False
    await type_into(pilot, app, "carol")
    await pilot.press("enter")
    await type_into(pilot, app, PASSWORD)
    assert fields["value-password"].value == PASSWORD and fields["value-user"].value == "carol"
    assert PASSWORD not in screen_text(app)  # masked as it is typed
    await pilot.press("enter")
    await wait(pilot, lambda: app.fixes.last is not None, what="the fix to be tried")


async def test_x_tries_the_fix_through_the_same_inspector_and_w_writes_it_with_a_backup(npm_env, login_proxy):
    app, session = live_app(npm_env, "view", "lab-hello", "version")
    before = npm_env.userconfig.read_text()
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await try_the_fix(pilot, app, session)
            tried = app.fixes.last
            assert tried.passed and tried.gone and tried.record.number == 2
            assert npm_env.userconfig.read_text() == before  # x never touches the user's files
            assert "run 1: E407 · exit 1 — run 2 (fix: npm config set" in status_text(app)
            assert PASSWORD not in screen_text(app) and quote(PASSWORD, safe="") not in screen_text(app)

            await pilot.press("w")
            await wait(pilot, lambda: isinstance(app.screen, WriteScreen), what="the write confirmation")
            shown = app.screen.text
            assert str(npm_env.userconfig) in shown and "https-proxy=http://carol:***@127.0.0.1:" in shown
            assert PASSWORD not in shown and quote(PASSWORD, safe="") not in shown
            await pilot.press("y")
            await wait(pilot, lambda: app.fixes.written, what="the write")
    finally:
        session.stop()
    written = npm_env.userconfig.read_text()
    assert f"https-proxy=http://carol:{quote(PASSWORD, safe='')}@127.0.0.1:{login_proxy.port}" in written
    backups = list(npm_env.userconfig.parent.glob(f"{npm_env.userconfig.name}.npm-inspect-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == before and oct(backups[0].stat().st_mode & 0o777) == "0o600"
    assert npm_env.run("view", "lab-hello", "version").returncode == 0  # plain npm, with the written config


async def test_w_refuses_a_secret_in_a_git_tracked_project_npmrc_and_offers_an_environment_variable(npm_env, login_proxy):
    project_npmrc = npm_env.project / ".npmrc"
    project_npmrc.write_text(f"proxy={login_proxy.url}\nhttps-proxy={login_proxy.url}\n")
    for command in (["init", "-q"], ["add", ".npmrc"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "npmrc"]):
        subprocess.run(["git", *command], cwd=npm_env.project, check=True, capture_output=True)
    app, session = live_app(npm_env, "view", "lab-hello", "version")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await try_the_fix(pilot, app, session)
            assert app.fixes.last.passed
            await pilot.press("w")
            await wait(pilot, lambda: isinstance(app.screen, WriteScreen), what="the write confirmation")
            screen = app.screen
            assert not screen.can_write and screen.can_use_env
            assert "tracked by git" in screen.text and "${NPM_PROXY_PASSWORD}" in screen.text
            await pilot.press("y")  # refused: nothing happens
            assert isinstance(app.screen, WriteScreen)
            await pilot.press("v")
            await wait(pilot, lambda: app.fixes.written, what="the write with ${VAR}")
    finally:
        session.stop()
    text = project_npmrc.read_text()
    assert "https-proxy=http://carol:${NPM_PROXY_PASSWORD}@127.0.0.1:" in text
    assert PASSWORD not in text and quote(PASSWORD, safe="") not in text
    env = npm_env.env(NPM_PROXY_PASSWORD=PASSWORD)
    result = subprocess.run(["npm", "view", "lab-hello", "version"], cwd=npm_env.project, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # npm expands the variable


async def test_an_untried_fix_is_written_only_when_the_user_says_so_twice(npm_env, login_proxy):
    app, session = live_app(npm_env, "view", "lab-hello", "version")
    before = npm_env.userconfig.read_text()
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait(pilot, lambda: session.npm_state == "exit 1" and app.findings, what="the finding")
            await pilot.press("f", "w")
            await wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the first question")
            assert "has not been tried" in app.screen.question
            await pilot.press("y")
            await wait(pilot, lambda: isinstance(app.screen, ConfirmScreen) and "Sure?" in app.screen.question, what="the second question")
            await pilot.press("n")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, (ConfirmScreen, WriteScreen, ValuesScreen))
    finally:
        session.stop()
    assert npm_env.userconfig.read_text() == before
    assert not list(Path(npm_env.userconfig.parent).glob("*.npm-inspect-backup-*"))


async def test_the_live_keys_are_in_the_palette_of_a_live_session(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url}")
    app, session = live_app(npm_env, "view", "lab-hello", "version")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait(pilot, lambda: session.npm_state == "exit 0", what="the run")
            helps = " ".join(c.help for c in app.get_system_commands(app.screen))
            assert {"(R)", "(x)", "(w)"} <= set(helps.split())
    finally:
        session.stop()


async def test_the_fix_loop_speaks_yarn_berry_x_tries_it_and_w_writes_the_yarnrc_yml(tmp_path, verdaccio, lab_pki, squid_factory):
    """``npm-inspect -- yarn install`` in a berry project: the 407's fix in yarn's syntax, tried as run 2 through the
    same inspector (YARN_HTTPS_PROXY on a temporary copy), then written into the project's .yarnrc.yml, where it is
    set today — after which the plain yarn, without npm-inspect, installs through the proxy."""
    from tests.lab.toolchain import installed, path_for

    assert installed("yarn-berry"), "yarn berry for the lab (npm ci in tests/lab/clients/berry)"
    squid = squid_factory(SquidConfig(users={"carol": PASSWORD}))
    proj, home = tmp_path / "proj", tmp_path / "home"
    proj.mkdir()
    home.mkdir()
    (proj / "package.json").write_text('{\n  "name": "lab-app",\n  "private": true,\n  "dependencies": {\n    "lab-hello": "1.1.0"\n  }\n}\n')
    (proj / "yarn.lock").write_text("")
    rc = proj / ".yarnrc.yml"
    rc.write_text(
        f'# the team\'s settings\nnpmRegistryServer: "{verdaccio.url("https")}"\nhttpsProxy: "{squid.url}"\n'
        f'httpsCaFilePath: "{lab_pki.ca.cert}"\nnpmMinimalAgeGate: 0\nenableTelemetry: false\nnodeLinker: node-modules\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(PATH=path_for("yarn-berry"), HOME=str(home), YARN_CACHE_FOLDER=str(tmp_path / "cache"), YARN_ENABLE_GLOBAL_CACHE="false")
    session = SessionLifecycle(RunRequest(argv=["yarn", "install"], cwd=str(proj), env=env))
    session.start()
    app = InspectorApp(session.store, session=session)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await try_the_fix(pilot, app, session)
            tried = app.fixes.last
            assert tried.passed and tried.gone and tried.record.number == 2
            assert "yarn config set httpsProxy 'http://carol:***@127.0.0.1:" in tried.record.fix
            assert session.info.tool == "yarn-berry" and session.info.tool_display == "yarn 4.18.1 (berry)"
            await pilot.press("w")
            await wait(pilot, lambda: isinstance(app.screen, WriteScreen), what="the write confirmation")
            shown = app.screen.text
            assert f"into the project yarn berry config {rc}" in shown and 'httpsProxy: "http://carol:***@127.0.0.1:' in shown
            assert PASSWORD not in shown and quote(PASSWORD, safe="") not in shown
            await pilot.press("y")
            await wait(pilot, lambda: app.fixes.written, what="the write")
    finally:
        session.stop()
    text = rc.read_text()
    assert text.startswith("# the team's settings\n") and f"carol:{quote(PASSWORD, safe='')}@127.0.0.1:{squid.port}" in text
    assert len(list(proj.glob(".yarnrc.yml.npm-inspect-backup-*"))) == 1
    plain = subprocess.run(["yarn", "install"], cwd=proj, env=env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stdout[-2000:]  # yarn itself, with the written config, through the proxy

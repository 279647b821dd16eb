"""Planted secrets: a lab run where a proxy password, an npm token, a Basic registry password, a cookie and
an npm login password are all in play. Every output npm-inspect writes is searched for each: zero hits."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.lab.npm import run_in_pty
from tests.lab.squid import SquidConfig

pytestmark = pytest.mark.e2e

PROXY_PASSWORD = "Pr0xy@Secret:42/x"
COOKIE = "CookieSecret7f3e9a"
LOGIN_PASSWORD = "Login-Secret-9b2"


def inspector(npm_env, *args, **kw):
    env = npm_env.env(NPM_INSPECT_HOME=os.environ["NPM_INSPECT_HOME"])
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=npm_env.project, env=env, capture_output=True, text=True, timeout=180, **kw)


def variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode().rstrip("=")}


def test_no_secret_reaches_any_output(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(
        SquidConfig(users={"carol": PROXY_PASSWORD}, extra=[f'reply_header_add Set-Cookie "lab_session={COOKIE}; Path=/" all'])
    )
    verdaccio.add_user("dave", LOGIN_PASSWORD)
    alice_password = "alice-Secret-1"
    token = verdaccio.tokens["alice"]
    http_nerf = verdaccio.url("http").replace("http:", "")
    https_nerf = verdaccio.url("https").replace("https:", "")
    basic = base64.b64encode(f"alice:{alice_password}".encode()).decode()
    proxy = squid.url_with("carol", PROXY_PASSWORD)
    npm_env.write_userconfig(
        f"registry={verdaccio.url('http')}",
        f"@corp:registry={verdaccio.url('https')}",
        f"cafile={lab_pki.ca.cert}",
        f"proxy={proxy}",
        f"https-proxy={proxy}",
        f"{http_nerf}:_auth={basic}",
        f"{https_nerf}:_authToken={token}",
    )
    session = tmp_path / "install.jsonl"
    har = tmp_path / "install.har"
    report_md = tmp_path / "report.md"
    run = inspector(npm_env, "run", "--log-level", "debug", "--session", str(session), "--har", str(har),
                    "--report", "markdown", "--report-file", str(report_md), "--", "npm", "install", "lab-hello", "@corp/secret", "--no-package-lock")
    assert run.returncode == 0, run.stderr

    login_session = tmp_path / "login.jsonl"
    env = npm_env.env(NPM_INSPECT_HOME=os.environ["NPM_INSPECT_HOME"])
    code, login_output = run_in_pty(
        [sys.executable, "-m", "inspector", "run", "--log-level", "debug", "--session", str(login_session),
         "--report-file", str(tmp_path / "login-report.txt"),
         "--", "npm", "login", "--auth-type=legacy", f"--registry={verdaccio.url('http')}"],
        [("Username:", "dave"), ("Password:", LOGIN_PASSWORD)],
        cwd=npm_env.project,
        env=env,
    )
    assert code == 0, login_output
    login_token = next(line.split("=", 1)[1].strip('"') for line in npm_env.userconfig.read_text().splitlines() if "_authToken" in line and http_nerf in line)

    outputs: dict[str, str] = {
        "run stdout": run.stdout,
        "run stderr": run.stderr,
        "login terminal": login_output,
        "session": session.read_text(),
        "login session": login_session.read_text(),
        "har": har.read_text(),
        "markdown report": report_md.read_text(),
        "login report": (tmp_path / "login-report.txt").read_text(),
    }
    for fmt in ("text", "json", "markdown"):
        outputs[f"open --report {fmt}"] = inspector(npm_env, "open", str(session), "--report", fmt).stdout
    bundle = tmp_path / "bundle.zip"
    assert inspector(npm_env, "bundle", str(session), "-o", str(bundle)).returncode == 0
    with zipfile.ZipFile(bundle) as archive:
        for name in archive.namelist():
            outputs[f"bundle/{name}"] = archive.read(name).decode()
    exported = tmp_path / "export.har"
    assert inspector(npm_env, "export", str(login_session), "--har", str(exported)).returncode == 0
    outputs["exported har"] = exported.read_text()
    for log in Path(os.environ["NPM_INSPECT_HOME"]).rglob("*.log"):
        outputs[f"log {log.name}"] = log.read_text()
    outputs["dashboard"] = _dashboard_text(session)

    # the secrets really were in play
    assert json.loads(session.read_text().splitlines()[1])["type"] == "exchange"
    session_text = outputs["session"]
    assert "proxy_auth" in session_text and '"scheme":"Basic"' in session_text and '"scheme":"Bearer"' in session_text
    har_entries = json.loads(outputs["har"])["log"]["entries"]
    cookies = [h["value"] for e in har_entries for h in e["response"]["headers"] if h["name"].lower() == "set-cookie"]
    assert cookies and all(c.startswith("[redacted:") for c in cookies)

    secrets = {
        "proxy password": PROXY_PASSWORD,
        "npm token": token,
        "registry Basic password": alice_password,
        "registry Basic credential": basic,
        "cookie": COOKIE,
        "npm login password": LOGIN_PASSWORD,
        "token from npm login": login_token,
    }
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for variant in variants(secret)
        for where, text in outputs.items()
        if variant and len(variant) >= 8 and variant in text
    ]
    assert leaks == []


def _dashboard_text(session: Path) -> str:
    """Every exchange's detail pane as the dashboard draws it, plus the main screen."""
    import asyncio

    from rich.console import Console

    from inspector.sources import load
    from inspector.tui.app import InspectorApp

    loaded = load(session)

    async def capture() -> str:
        app = InspectorApp(loaded.store, info=loaded.info, snapshot=loaded.config, source="journal")
        texts = []
        async with app.run_test(size=(160, 50)) as pilot:
            texts.append(app.export_screenshot())
            for exchange in loaded.store.exchanges():
                app.table.select_id(exchange.id)
                await pilot.press("enter")
                await pilot.pause()
                console = Console(width=150, record=True, color_system=None)
                console.print(app.detail_pane.content)
                texts.append(console.export_text())
        return "\n".join(texts)

    return asyncio.run(capture())

"""Planted secrets: lab runs where a proxy password, an npm token, a Basic registry password, a cookie, an npm
login password, secrets on npm's own command line (a token flag, --otp, a registry URL and a tarball URL with
passwords), signed tarball URLs in a lockfile and a browser-made HAR with a custom token header are all in play.
Every output npm-inspect writes — session files and their names, HAR, reports, bundle, logs at debug level,
the dashboard's screens — is searched for each: zero hits."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from inspector.paths import sessions_dir
from tests.lab import REGISTRY_HOST
from tests.lab.npm import run_in_pty
from tests.lab.squid import SquidConfig

pytestmark = pytest.mark.e2e

PROXY_PASSWORD = "Pr0xy@Secret:42/x"
COOKIE = "CookieSecret7f3e9a"
LOGIN_PASSWORD = "Login-Secret-9b2"
OTP = "91827364"
REGISTRY_URL_PASSWORD = "RegUrl-Pass-77"
TARBALL_PASSWORD = "Tarball-Pass-55"
AMZ_SIGNATURE = "AmzSig0123456789abcdef"
QUERY_TOKEN = "QueryTok-98765432"
CUSTOM_HEADER_TOKEN = "CustomTok-4242-abcdef"
HAR_SIGNATURE = "HarSig-1234567890"


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

    # npm's own command line: a token flag, --otp, a registry URL and a tarball URL with passwords; no --session,
    # so the session file's name comes from the command line too
    registry_host = verdaccio.url("http").split("//", 1)[1].rstrip("/")
    argv_run = inspector(npm_env, "run", "--log-level", "debug", "--report", "json", "--",
                         "npm", "view", "@corp/secret", "version", f"--{https_nerf}:_authToken={token}", f"--otp={OTP}",
                         f"--registry=http://alice:{REGISTRY_URL_PASSWORD}@{registry_host}/")
    tarball_run = inspector(npm_env, "run", "--report", "text", "--", "npm", "install", "--no-package-lock",
                            f"http://alice:{TARBALL_PASSWORD}@{registry_host}/lab-hello/-/lab-hello-1.0.0.tgz")
    # a lockfile whose resolved URLs are signed (Artifactory/S3 style) and on another host: npm ci fetches them as written
    (npm_env.project / "package.json").write_text(json.dumps({"name": "lab-app", "version": "1.0.0", "private": True}))
    shutil.rmtree(npm_env.project / "node_modules", ignore_errors=True)
    npm_env.run("install", "lab-hello")
    lock = json.loads((npm_env.project / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/lab-hello"]
    entry["resolved"] = entry["resolved"].replace(REGISTRY_HOST, "127.0.0.1") + f"?X-Amz-Signature={AMZ_SIGNATURE}&token={QUERY_TOKEN}"
    (npm_env.project / "package-lock.json").write_text(json.dumps(lock, indent=2))
    shutil.rmtree(npm_env.project / "node_modules")
    npm_env.run("cache", "clean", "--force")  # or npm takes the tarball from its cache by integrity
    ci_run = inspector(npm_env, "run", "--log-level", "debug", "--report", "markdown", "--", "npm", "ci")
    assert ci_run.returncode == 0, ci_run.stderr
    assert "X-Amz-Signature=[redacted:" in ci_run.stdout or "X-Amz-Signature=[redacted:" in _newest_session_text()

    # a HAR someone made in a browser, with a custom token header and a signed URL, exported and bundled
    browser_har = tmp_path / "browser.har"
    browser_har.write_text(json.dumps(_browser_har(token)))
    exported_browser = tmp_path / "browser-export.har"
    assert inspector(npm_env, "export", str(browser_har), "--har", str(exported_browser)).returncode == 0
    browser_bundle = tmp_path / "browser-bundle.zip"
    assert inspector(npm_env, "bundle", str(browser_har), "-o", str(browser_bundle)).returncode == 0

    outputs: dict[str, str] = {
        "argv run stdout": argv_run.stdout,
        "argv run stderr": argv_run.stderr,
        "tarball run stdout": tarball_run.stdout,
        "tarball run stderr": tarball_run.stderr,
        "ci run stdout": ci_run.stdout,
        "ci run stderr": ci_run.stderr,
        "browser HAR export": exported_browser.read_text(),
        "browser HAR report": inspector(npm_env, "open", str(browser_har), "--report", "json").stdout,
        "sessions listing": inspector(npm_env, "sessions").stdout,
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
    with zipfile.ZipFile(browser_bundle) as archive:
        for name in archive.namelist():
            outputs[f"browser bundle/{name}"] = archive.read(name).decode()
    for saved in sessions_dir().glob("*.jsonl"):
        outputs[f"session file {saved.name}"] = saved.read_text()
        outputs[f"session file name {saved.name}"] = saved.name
    exported = tmp_path / "export.har"
    assert inspector(npm_env, "export", str(login_session), "--har", str(exported)).returncode == 0
    outputs["exported har"] = exported.read_text()
    for log in Path(os.environ["NPM_INSPECT_HOME"]).rglob("*.log"):
        outputs[f"log {log.name}"] = log.read_text()
    outputs["dashboard"] = _dashboard_text(session)
    outputs["serve page"] = _served_page_text(tmp_path, session)

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
        "--otp value": OTP,
        "password in --registry": REGISTRY_URL_PASSWORD,
        "password in a tarball URL": TARBALL_PASSWORD,
        "X-Amz-Signature in a lockfile URL": AMZ_SIGNATURE,
        "token= in a lockfile URL": QUERY_TOKEN,
        "custom token header in a browser HAR": CUSTOM_HEADER_TOKEN,
        "sig= in a browser HAR": HAR_SIGNATURE,
    }
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for variant in variants(secret)
        for where, text in outputs.items()
        if variant and len(variant) >= 8 and variant in text
    ]
    assert leaks == []


def _newest_session_text() -> str:
    newest = max(sessions_dir().glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    return newest.read_text()


def _browser_har(token: str) -> dict:
    """A Chrome-style HAR of an npm registry request, as a user would attach it to a ticket."""
    url = f"https://registry.lab.test/lab-hello/-/lab-hello-1.0.0.tgz?sig={HAR_SIGNATURE}&X-Amz-Signature={AMZ_SIGNATURE}"
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-11-29T10:00:00.000Z",
                    "time": 12.5,
                    "request": {
                        "method": "GET",
                        "url": url,
                        "httpVersion": "HTTP/1.1",
                        "headers": [
                            {"name": "Authorization", "value": f"Bearer {token}"},
                            {"name": "X-Custom-Token", "value": CUSTOM_HEADER_TOKEN},
                            {"name": "Cookie", "value": f"lab_session={COOKIE}"},
                        ],
                        "queryString": [{"name": "sig", "value": HAR_SIGNATURE}],
                        "cookies": [{"name": "lab_session", "value": COOKIE}],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 403,
                        "statusText": "Forbidden",
                        "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Content-Type", "value": "application/json"}],
                        "content": {"size": 40, "mimeType": "application/json", "text": '{"error": "forbidden"}'},
                        "headersSize": -1,
                        "bodySize": 40,
                    },
                    "timings": {"send": 1, "wait": 10, "receive": 1.5},
                }
            ],
        }
    }


def _served_page_text(tmp_path: Path, session: Path) -> str:
    """What a pairing partner's browser receives from ``npm-inspect serve`` for the session (main screen and detail)."""
    import re

    from tests.lab.browser import served_text
    from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until

    port = free_port()
    process = ManagedProcess([sys.executable, "-m", "inspector", "serve", str(session), "--port", str(port)], log=tmp_path / "serve.out")
    try:
        wait_until(lambda: port_open(port) or not process.alive(), timeout=30, what="npm-inspect serve")
        url = re.search(r"at (http://127\.0\.0\.1:\d+/\?token=[\w-]+)", process.log.read_text()).group(1)
        return served_text(url, until=("rows",), steps=[("d", ["Timing"])])
    finally:
        process.stop()


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

"""Another local user, or a web page, against a running npm-inspect: the listener serves only the run's npm.

Every run has its own random proxy credential. npm gets it in its environment (never on a command line, where
``ps`` shows it to every user); any other client gets npm-inspect's own 407 and nothing reaches the corporate
proxy — which would otherwise add the user's login to a stranger's request. The corporate proxy sees exactly
the credentials npm would have sent without npm-inspect.
"""

from __future__ import annotations

import base64
import json
import shlex
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import run_inspector
from tests.lab.procs import wait_until
from tests.lab.squid import SquidConfig
from tests.lab.terminal import dashboard
from tests.lab.toolchain import installed, path_for

pytestmark = pytest.mark.e2e

STRANGER_HOST = "stranger.lab.test"
"""The host other clients ask for: Squid's log must never name it."""

PROBE = r'''
import base64, json, os, socket, sys
url = os.environ[os.environ.get("PROBE_PROXY_VARIABLE", "npm_config_https_proxy")]
from urllib.parse import urlsplit
parts = urlsplit(url)

def connect(target, authorization=None):
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as s:
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if authorization:
            lines.append(f"Proxy-Authorization: {authorization}")
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        return head.split(b"\r\n\r\n")[0].decode("latin-1")

def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

cmdlines = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            cmdlines.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:
            pass
result = {
    "no credential": connect(sys.argv[1] + ":443"),
    "wrong credential": connect(sys.argv[1] + ":443", basic(parts.username, "guessed-wrong")),
    "run credential": connect(sys.argv[2], basic(parts.username, parts.password)),
    "credential on a command line": any(parts.password in c for c in cmdlines),
    "password length": len(parts.password or ""),
}
json.dump(result, open(sys.argv[3], "w"))
'''


def write_probe(npm_env, registry_target: str) -> Path:
    """An npm script that plays "another local user" while npm-inspect runs npm: it knows the port, not the password."""
    result = npm_env.project / "probe.json"
    (npm_env.project / "probe.py").write_text(PROBE)
    command = " ".join(shlex.quote(a) for a in (sys.executable, "probe.py", STRANGER_HOST, registry_target, str(result)))
    (npm_env.project / "package.json").write_text(json.dumps({"name": "probe", "version": "1.0.0", "private": True, "scripts": {"probe": command}}))
    return result


def squid_with_login(squid_factory, password: str = "Corp-Pass:9@x"):
    return squid_factory(SquidConfig(users={"carol": password}, hosts={REGISTRY_HOST: "127.0.0.1", STRANGER_HOST: "127.0.0.1"})), password


def test_another_local_user_gets_npm_inspects_407_and_the_proxy_never_hears_of_it(npm_env, verdaccio, lab_pki, squid_factory):
    squid, password = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url_with('carol', password)}")
    target = urlsplit(verdaccio.url("https")).netloc
    result_file = write_probe(npm_env, target)

    run = run_inspector(npm_env, npm_args=["run", "probe"])
    assert run.exit == 0, run.process.stderr
    probe = json.loads(result_file.read_text())

    assert probe["no credential"].startswith("HTTP/1.1 407") and 'Proxy-Authenticate: Basic realm="mitmproxy"' in probe["no credential"]
    assert probe["wrong credential"].startswith("HTTP/1.1 407")
    assert probe["run credential"].startswith("HTTP/1.1 200"), probe  # the check is not a blanket refusal
    assert probe["password length"] >= 20 and probe["credential on a command line"] is False

    wait_until(lambda: any(e["method"] == "CONNECT" for e in squid.access_entries()), timeout=20, what="Squid to log the run's CONNECT")
    entries = [e for e in squid.access_entries() if e["method"] != "-"]  # "-": the fixture's port check
    assert not [e for e in entries if STRANGER_HOST in e["url"]], entries
    assert {e["user"] for e in entries} == {"carol"}, entries  # npm's own login, sent by npm-inspect for the run's client

    refused = run.exchanges(host=STRANGER_HOST)
    assert len(refused) == 2 and all(e["status"] == 407 and e["hop"] == "inspector" for e in refused)
    assert "did not present this run's proxy credential" in refused[0]["evidence"]["reason"]


def test_pnpm_gets_the_credential_in_its_environment_never_on_a_command_line(npm_env, verdaccio, lab_pki, squid_factory):
    """The same promise for another tool: pnpm gets the inspector as pnpm_config_https_proxy (its adapter's
    injection); no process on the machine shows the run's password in its arguments while pnpm runs."""
    assert installed("pnpm"), "pnpm for the lab (npm ci in tests/lab/clients)"
    squid, password = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url_with('carol', password)}")
    result_file = write_probe(npm_env, urlsplit(verdaccio.url("https")).netloc)

    run = run_inspector(
        npm_env, npm_args=["run", "probe"], program="pnpm",
        env={"PATH": path_for("pnpm"), "PROBE_PROXY_VARIABLE": "pnpm_config_https_proxy"},
    )
    assert run.exit == 0, run.process.stderr
    assert run.report["tool"]["name"] == "pnpm"
    probe = json.loads(result_file.read_text())
    assert probe["password length"] >= 20 and probe["credential on a command line"] is False
    assert probe["no credential"].startswith("HTTP/1.1 407") and probe["run credential"].startswith("HTTP/1.1 200"), probe
    wait_until(lambda: any(e["method"] == "CONNECT" for e in squid.access_entries()), timeout=20, what="Squid to log the run's CONNECT")
    assert {e["user"] for e in squid.access_entries() if e["method"] != "-"} == {"carol"}  # pnpm's own login, sent on its behalf


def raw_connect(host: str, port: int, target: str) -> str:
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and (chunk := s.recv(4096)):
            head += chunk
    return head.decode("latin-1")


def test_the_dashboard_serves_no_stranger_and_shows_the_url_with_its_credential(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    squid, password = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url_with('carol', password)}")
    session_file = tmp_path / "dashboard.jsonl"
    with dashboard(npm_env, "--session", str(session_file), size=(200, 50)) as terminal:
        screen = terminal.screen
        wait_until(lambda: "npm_config_https_proxy=http://npm-inspect:" in screen(), timeout=60, what="the setup pane with the proxy URL")
        assert "--https-proxy" not in screen()  # the setup commands use the environment, not npm's argv
        header = json.loads(session_file.read_text().splitlines()[0])
        host, port = header["info"]["listen"].rsplit(":", 1)
        assert raw_connect(host, int(port), f"{STRANGER_HOST}:443").startswith("HTTP/1.1 407")

        shown = next(line for line in screen().splitlines() if "npm_config_https_proxy=http://npm-inspect:" in line)
        url = shown.split("npm_config_https_proxy=", 1)[1].split()[0]
        user_info = urlsplit(url)
        with socket.create_connection((host, int(port)), timeout=20) as s:  # the pasted URL works
            auth = base64.b64encode(f"{user_info.username}:{user_info.password}".encode()).decode()
            target = urlsplit(verdaccio.url("https")).netloc
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        terminal.keys("q")
        wait_until(lambda: "session saved to" in screen(), timeout=30, what="the dashboard to quit")
    wait_until(lambda: any(e["method"] == "CONNECT" for e in squid.access_entries()), timeout=20, what="Squid to log the pasted URL's CONNECT")
    assert not [e for e in squid.access_entries() if STRANGER_HOST in e["url"]]
    assert password not in session_file.read_text() and user_info.password not in session_file.read_text()


def test_the_proxy_sees_the_same_login_with_and_without_npm_inspect(npm_env, verdaccio, lab_pki, squid_factory):
    squid, password = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url_with('carol', password)}")
    direct = npm_env.run("view", "lab-hello", "version")
    assert direct.returncode == 0, direct.stderr
    connects = lambda: [e for e in squid.access_entries() if e["method"] == "CONNECT"]  # noqa: E731  (logged when a tunnel closes)
    wait_until(lambda: connects() != [], timeout=20, what="Squid's log of npm's own run")
    direct_entries = connects()
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    wait_until(lambda: len(connects()) > len(direct_entries), timeout=20, what="Squid's log of the inspected run")
    inspected_entries = connects()[len(direct_entries):]
    assert {e["user"] for e in inspected_entries} == {e["user"] for e in direct_entries} == {"carol"}, (direct_entries, inspected_entries)


def test_upstream_password_from_the_environment_never_on_a_command_line(npm_env, verdaccio, lab_pki, squid_factory):
    squid, password = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}")
    run = run_inspector(
        npm_env,
        "--upstream", f"http://carol@127.0.0.1:{squid.port}",
        npm_args=["view", "lab-hello", "version"],
        env={"NPM_INSPECT_UPSTREAM_PASSWORD": password},
    )
    assert run.exit == 0, run.process.stderr
    assert "visible to every user" not in run.process.stderr
    assert run.report["upstream"] == f"http://carol:***@127.0.0.1:{squid.port}"


def test_a_password_inside_upstream_still_works_and_warns_once(npm_env, verdaccio, lab_pki, squid_factory):
    squid, password = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}")
    run = run_inspector(npm_env, "--upstream", squid.url_with("carol", password), npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    warnings = [line for line in run.process.stderr.splitlines() if "visible to every user of this machine (ps)" in line]
    assert len(warnings) == 1 and "NPM_INSPECT_UPSTREAM_PASSWORD" in warnings[0] and password not in warnings[0]


def test_a_wrong_upstream_password_is_still_the_proxys_407(npm_env, verdaccio, lab_pki, squid_factory):
    squid, _ = squid_with_login(squid_factory)
    npm_env.write_userconfig(f"registry={verdaccio.url('https')}", f"cafile={lab_pki.ca.cert}", f"https-proxy={squid.url_with('carol', 'not-it')}")
    direct = npm_env.run("view", "lab-hello", "version")
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"])
    assert run.exit == direct.returncode != 0
    assert run.npm_error_code() == "E407" and "E407" in direct.stderr
    (connect,) = [e for e in run.exchanges(kind="connect") if e["status"] == 407][:1]
    assert connect["hop"] == "proxy" and connect["evidence"]["proxy_authenticate"] == ['Basic realm="Lab Corporate Proxy"']

"""Every failing npm run ends with a true finding: the failure classes users meet at work, with the real npm
(the machine's npm 11 and the lab's npm 12.2 on node 22), a real Squid and a real Verdaccio.

Each scenario is run the way a user runs it; where npm alone prints an error, npm prints the same one through
npm-inspect. The shared fixture (``run_inspector``) also checks, for every e2e run, that a failing npm never
ends with zero findings.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import InspectorRun, assert_a_failure_has_a_finding, npm_error_code, run_inspector
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until
from tests.lab.squid import SquidConfig

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OLD_MIRROR = "old-mirror.lab.test"


def configure(npm, verdaccio, lab_pki, *lines, scheme="https", proxy=None, cafile=True):
    base = [f"registry={verdaccio.url(scheme)}"] + ([f"cafile={lab_pki.ca.cert}"] if cafile else [])
    if proxy:
        base += [f"proxy={proxy}", f"https-proxy={proxy}"]
    npm.write_userconfig(*base, *lines)


def top(run: InspectorRun) -> dict:
    assert run.report is not None, run.process.stderr
    assert run.report["findings"], run.report["exchanges"]
    return run.report["findings"][0]


def rules(run: InspectorRun) -> list[str]:
    return [f["rule"] for f in run.report["findings"]]


def alone(npm, *args) -> str | None:
    """npm's error code without npm-inspect (through the same proxy)."""
    result = npm.run(*args)
    assert result.returncode != 0, result.stdout
    return npm_error_code(result.stderr)


@pytest.fixture
def portal(tmp_path, squid_factory):
    """A corporate proxy that answers with its own HTML page (a real mitmdump with tests/lab/portal.py), in front of Squid."""
    started: list[ManagedProcess] = []

    def start(mode: str) -> str:
        squid = squid_factory()
        port = free_port()
        process = ManagedProcess(
            [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", "127.0.0.1", "-p", str(port),
             "--mode", f"upstream:{squid.url}", "-s", str(ROOT / "tests" / "lab" / "portal.py"), "--set", f"portal={mode}"],
            log=tmp_path / f"portal-{mode}.log",
        )
        started.append(process)
        wait_until(lambda: port_open(port), timeout=30, what="the portal proxy")
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


# -- the proxy's own HTML page ---------------------------------------------------------------------


def test_a_proxy_login_page_in_place_of_json_is_proxy_interstitial(npm_any, verdaccio, lab_pki, portal):
    proxy = portal("all")
    configure(npm_any, verdaccio, lab_pki, scheme="http", proxy=proxy)
    without = alone(npm_any, "install", "lab-hello")
    run = run_inspector(npm_any, npm_args=["install", "lab-hello"])
    assert (run.exit, run.npm_error_code()) == (1, without) == (1, "FETCH_ERROR")
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("proxy-interstitial", "proxy"), rules(run)
    assert "Corporate Web Access - Sign in" in finding["title"] and "login page" in finding["explanation"]
    (page,) = run.exchanges(kind="http", path="/lab-hello")
    assert (page["status"], page["hop"]) == (200, "proxy")  # a 200 the proxy made is not the registry's
    assert "invalid json" in " ".join(run.report["npm"]["error"]["message"])


def test_a_page_in_place_of_a_tarball_is_proxy_interstitial(npm_any, verdaccio, lab_pki, portal):
    proxy = portal("tarballs")
    configure(npm_any, verdaccio, lab_pki, scheme="http", proxy=proxy)
    run = run_inspector(npm_any, npm_args=["install", "lab-hello"])
    assert (run.exit, run.npm_error_code()) == (1, "EINTEGRITY")
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("proxy-interstitial", "proxy"), rules(run)
    assert "tarball" in finding["title"] and "EINTEGRITY" in finding["explanation"]
    assert all(e["hop"] == "registry" for e in run.exchanges(kind="http", path="/lab-hello"))  # the document was the registry's


# -- the proxy URL's scheme --------------------------------------------------------------------------


def test_an_https_proxy_url_for_a_plain_http_proxy_is_a_scheme_mismatch_and_the_fix_is_verified(npm_any, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    wrong = squid.url.replace("http://", "https://")
    configure(npm_any, verdaccio, lab_pki, proxy=wrong)
    assert alone(npm_any, "view", "lab-hello", "version") == "EPROTO"  # npm alone; through npm-inspect: E502 (README)
    run = run_inspector(npm_any, "--verify-fix", npm_args=["view", "lab-hello", "version"])
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("proxy-scheme-mismatch", "proxy"), rules(run)
    assert "Confirmed" in finding["explanation"]
    assert f"npm config set https-proxy={squid.url} --location=user" in finding["commands"]
    (outcome,) = [v for v in run.report["verify"] if v["rule"] == "proxy-scheme-mismatch"]
    assert outcome["passed"] is True


# -- npm refusing its own config ------------------------------------------------------------------------


def test_an_unscoped_auth_is_npm_config_invalid_with_zero_exchanges(npm_any, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    basic = base64.b64encode(b"bob:bob-Secret-2").decode()
    configure(npm_any, verdaccio, lab_pki, f"_auth={basic}", proxy=squid.url)
    without = alone(npm_any, "view", "lab-hello", "version")
    run = run_inspector(npm_any, "--verify-fix", npm_args=["view", "lab-hello", "version"])
    assert (run.exit, run.npm_error_code()) == (1, without) == (1, "ERR_INVALID_AUTH")
    assert [e for e in run.report["exchanges"] if e["run"] == 1] == []  # npm refused before any request
    assert {e["run"] for e in run.report["exchanges"]} == {2}  # the fix's trial run reached the registry
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("npm-config-invalid", "client")
    nerf = verdaccio.url("https").replace("https:", "")
    assert "npm config fix" in finding["commands"]
    assert f"npm config set '{nerf}:_auth=<token>' --location=user" in finding["commands"]
    assert "npm config delete _auth --location=user" in finding["commands"]
    assert run.report["verify"][0]["passed"] is True
    assert basic not in run.process.stdout + run.process.stderr.replace(f"_auth={basic}", "")


def test_npm_12_refuses_a_top_level_email(npm_any, npm_release, verdaccio, lab_pki, squid_factory):
    if npm_release is None:
        pytest.skip("npm 11 only warns about a top-level email; npm 12 refuses it")
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, "email=carol@corp.example", proxy=squid.url)
    run = run_inspector(npm_any, npm_args=["view", "lab-hello", "version"])
    assert run.npm_error_code() == "ERR_INVALID_AUTH"
    finding = top(run)
    assert finding["rule"] == "npm-config-invalid" and "email" in finding["title"]
    assert any(c.endswith(":email=<value>' --location=user") for c in finding["commands"])


def test_an_invalid_value_npm_warned_about_is_npm_config_invalid(npm_any, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, "fetch-timeout=soon", proxy=squid.url)
    run = run_inspector(npm_any, npm_args=["view", "lab-hello", "version"], env={"npm_config_fetch_timeout": ""})
    assert run.exit == 1
    finding = top(run)
    assert finding["rule"] == "npm-config-invalid" and "fetch-timeout" in finding["title"]
    assert "npm config delete fetch-timeout --location=user" in finding["commands"]


# -- what the mirror has -----------------------------------------------------------------------------------


def test_a_package_the_mirror_lacks_is_package_not_found_in_the_mirrors_words(npm_any, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_any, npm_args=["install", "lab-nope"])
    assert run.npm_error_code() == "E404"
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("package-not-found", "registry"), rules(run)
    assert "lab-nope" in finding["title"] and "Verdaccio" in finding["explanation"] and "uplink" in finding["explanation"]


def test_without_decryption_npms_own_404_still_names_the_missing_package(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_env, "--no-decrypt", npm_args=["install", "lab-nope"])
    assert run.npm_error_code() == "E404"
    finding = top(run)
    assert finding["rule"] == "package-not-found" and "lab-nope" in finding["title"]


def test_a_range_the_mirror_cannot_satisfy_is_version_not_found_with_what_it_has(npm_any, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, proxy=squid.url)
    first = run_inspector(npm_any, npm_args=["install", "lab-hello@^3"])  # the package document crosses the inspector
    without = alone(npm_any, "install", "lab-hello@^3")
    again = run_inspector(npm_any, npm_args=["install", "lab-hello@^3"])  # npm revalidates its cached copy: a 304
    assert [e["status"] for e in again.exchanges(kind="http", path="/lab-hello")] == [304]
    for run in (first, again):
        assert (run.exit, run.npm_error_code()) == (1, without) == (1, "ETARGET")
        finding = top(run)
        assert (finding["rule"], finding["hop"]) == ("version-not-found", "registry"), rules(run)
        assert "^3" in finding["title"]
        assert "1.0.0, 1.1.0" in finding["explanation"] and "latest is 1.1.0" in finding["explanation"]


# -- the lockfile's resolved URLs ---------------------------------------------------------------------------


def _lock_to_old_mirror(npm, verdaccio, closed_port: int) -> None:
    """A project whose lockfile was made against an old mirror: resolved URLs on another host."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{verdaccio.local_url}lab-hello", timeout=30) as answer:  # straight to the registry
        integrity = json.loads(answer.read())["versions"]["1.0.0"]["dist"]["integrity"]
    (npm.project / "package.json").write_text(
        json.dumps({"name": "lab-app", "version": "1.0.0", "private": True, "dependencies": {"lab-hello": "^1.0.0"}})
    )
    (npm.project / "package-lock.json").write_text(
        json.dumps(
            {
                "name": "lab-app",
                "version": "1.0.0",
                "lockfileVersion": 3,
                "requires": True,
                "packages": {
                    "": {"name": "lab-app", "version": "1.0.0", "dependencies": {"lab-hello": "^1.0.0"}},
                    "node_modules/lab-hello": {
                        "version": "1.0.0",
                        "resolved": f"https://{OLD_MIRROR}:{closed_port}/repository/npm/lab-hello/-/lab-hello-1.0.0.tgz",
                        "integrity": integrity,
                        "license": "MIT",
                    },
                },
            },
            indent=2,
        )
    )


def test_a_lockfile_from_an_old_mirror_is_lockfile_registry_mismatch_and_replace_registry_host_fixes_it(npm_any, npm_release, verdaccio, lab_pki, squid_factory):
    squid = squid_factory(SquidConfig(hosts={REGISTRY_HOST: "127.0.0.1", OLD_MIRROR: "127.0.0.1"}))
    configure(npm_any, verdaccio, lab_pki, proxy=squid.url)
    _lock_to_old_mirror(npm_any, verdaccio, free_port())
    without = alone(npm_any, "ci")
    run = run_inspector(npm_any, "--verify-fix", npm_args=["ci"])
    assert (run.exit, run.npm_error_code()) == (1, without)
    assert without == ("EALLOWREMOTE" if npm_release is not None else "E503")
    finding = top(run)
    assert (finding["rule"], finding["hop"]) == ("lockfile-registry-mismatch", "client"), rules(run)
    assert OLD_MIRROR in finding["title"] and "1 resolved URL" in finding["title"]
    assert any(c.startswith(f"npm config set replace-registry-host=https://{OLD_MIRROR}:") and c.endswith("/repository/npm --location=user") for c in finding["commands"]), finding["commands"]
    assert "proxy does not answer" not in json.dumps(run.report["findings"])
    (outcome,) = [v for v in run.report["verify"] if v["rule"] == "lockfile-registry-mismatch"]
    assert outcome["passed"] is True


# -- npm 12's install policies ----------------------------------------------------------------------------------


def test_a_git_dependency_is_npm_policy_on_npm_12_and_quoted_on_npm_11(npm_any, npm_release, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, proxy=squid.url)
    closed = free_port()  # loopback only: nothing resolves a name off the machine
    (npm_any.project / "package.json").write_text(
        json.dumps({"name": "lab-app", "version": "1.0.0", "private": True, "dependencies": {"lab-git": f"git+https://127.0.0.1:{closed}/lab-git.git"}})
    )
    run = run_inspector(npm_any, npm_args=["install"])
    assert run.exit != 0
    finding = top(run)
    if npm_release is not None:
        assert run.npm_error_code() == "EALLOWGIT"
        assert (finding["rule"], finding["hop"]) == ("npm-policy", "client")
        assert finding["commands"][0] == "npm config set allow-git=root --location=project"
    else:  # npm 11 runs git, which fails: no rule knows that, npm's words are the finding
        assert finding["rule"] == "npm-error" and "git" in finding["explanation"]


@pytest.fixture(scope="module")
def package_with_a_postinstall(verdaccio):
    from tests.lab.packages import Package

    class WithScript(Package):
        def manifest(self) -> dict:
            return super().manifest() | {"scripts": {"postinstall": "node -e \"require('fs').writeFileSync('built.txt', 'ok')\""}}

    verdaccio.publish(WithScript("lab-native", "1.0.0"))
    return "lab-native"


def test_npm_12_blocking_install_scripts_is_a_warning_on_success(npm_any, npm_release, verdaccio, lab_pki, squid_factory, package_with_a_postinstall):
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, proxy=squid.url)
    run = run_inspector(npm_any, npm_args=["install", package_with_a_postinstall])
    assert run.exit == 0, run.process.stderr
    built = (npm_any.project / "node_modules" / "lab-native" / "built.txt").exists()
    policy = [f for f in run.report["findings"] if f["rule"] == "npm-policy"]
    if npm_release is not None:
        assert not built
        (finding,) = policy
        assert finding["severity"] == "warning" and "npm install-scripts approve lab-native" in finding["commands"]
    else:
        assert built and policy == []


# -- a slow proxy is not a dead proxy ---------------------------------------------------------------------


def _slow_proxy(tmp_path, parent_port: int, delay: float) -> tuple[ManagedProcess, int]:
    port = free_port()
    process = ManagedProcess(
        [sys.executable, "-m", "tests.lab.slowproxy", str(port), str(parent_port), str(delay)],
        log=tmp_path / "slow-proxy.log",
        cwd=ROOT,
    )
    wait_until(lambda: port_open(port), timeout=20, what="the slow proxy")
    return process, port


def test_a_proxy_that_accepts_but_does_not_answer_is_slow_not_down(tmp_path, npm_any, verdaccio, lab_pki, squid_factory):
    """npm waits for a CONNECT answer without a time limit (fetch-timeout starts once the tunnel is up), so the
    user gives up with Ctrl-C: the report says the proxy accepted the connection and had not answered yet."""
    squid = squid_factory()
    slow, port = _slow_proxy(tmp_path, squid.port, 600)
    try:
        configure(npm_any, verdaccio, lab_pki, "fetch-timeout=2000", proxy=f"http://127.0.0.1:{port}")
        env = npm_any.env(NPM_INSPECT_HOME=os.environ["NPM_INSPECT_HOME"])
        process = subprocess.Popen(
            [sys.executable, "-m", "inspector", "run", "--report", "json", "--", "npm", "view", "lab-hello", "version"],
            cwd=npm_any.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        time.sleep(0)  # the wait below is on a condition
        wait_until(lambda: _connect_pending(tmp_path / "slow-proxy.log", port), timeout=30, what="npm's CONNECT to reach the slow proxy")
        deadline = time.monotonic() + 5  # longer than npm's fetch-timeout: npm is still waiting for the CONNECT answer
        wait_until(lambda: time.monotonic() > deadline or process.poll() is not None, timeout=10, what="5 s of waiting")
        assert process.poll() is None, "npm gave up on its own"
        os.killpg(process.pid, signal.SIGINT)  # the user presses Ctrl-C
        stdout, stderr = process.communicate(timeout=60)
    finally:
        slow.stop()
    report = json.loads(stdout)
    assert_a_failure_has_a_finding(stdout, report, "json")
    finding = report["findings"][0]
    assert (finding["rule"], finding["hop"], finding["severity"]) == ("slow-hop", "proxy", "error"), report["findings"]
    assert "accepted the connection" in finding["title"] and "proxy-unreachable" not in [f["rule"] for f in report["findings"]]
    (connect,) = [e for e in report["exchanges"] if e["kind"] == "connect"]
    assert connect["error"]["kind"] == "proxy-slow" and connect["timings"]["upstream_connect"] is not None


def _connect_pending(log: Path, port: int) -> bool:
    """The slow proxy has accepted a connection (it logs nothing: ask the kernel)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    hex_port = f"{port:04X}"
    return any(line.split()[1].endswith(":" + hex_port) and line.split()[3] == "01" for line in lines)


def test_a_proxy_slower_than_the_old_fixed_probe_timeout_still_gets_npm_through(tmp_path, npm_env, verdaccio, lab_pki, squid_factory):
    """Before, the CONNECT probe gave up after 30 s and npm got E502 where npm alone waits and succeeds."""
    squid = squid_factory()
    slow, port = _slow_proxy(tmp_path, squid.port, 32)
    try:
        configure(npm_env, verdaccio, lab_pki, proxy=f"http://127.0.0.1:{port}")
        run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"], timeout=240)
    finally:
        slow.stop()
    assert run.exit == 0, run.process.stderr
    connects = run.exchanges(kind="connect")
    assert connects[0]["status"] == 200 and connects[0]["timings"]["connect"] > 30000


# -- settings that turn verification off -------------------------------------------------------------------


def test_strict_ssl_false_warns_on_success_and_the_saved_ca_replaces_it(npm_any, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, "strict-ssl=false", proxy=squid.url, cafile=False)
    run = run_inspector(npm_any, "--verify-fix", npm_args=["view", "lab-hello", "version"])
    assert run.exit == 0, run.process.stderr
    finding = top(run)
    assert (finding["rule"], finding["severity"]) == ("insecure-tls-config", "warning")
    assert "npm config delete strict-ssl --location=user" in finding["commands"]
    assert any(c.startswith("npm config set cafile=") and "corporate-ca.pem" in c for c in finding["commands"])
    (outcome,) = run.report["verify"]
    assert outcome["passed"] is True and len(outcome["applied"]) == 2


def test_an_http_registry_and_node_tls_reject_unauthorized_are_warned_about(npm_env, verdaccio, lab_pki, squid_factory):
    squid = squid_factory()
    configure(npm_env, verdaccio, lab_pki, scheme="http", proxy=squid.url)
    run = run_inspector(npm_env, npm_args=["view", "lab-hello", "version"], env={"NODE_TLS_REJECT_UNAUTHORIZED": "0"})
    assert run.exit == 0
    titles = {f["title"]: f for f in run.report["findings"] if f["rule"] == "insecure-tls-config"}
    assert any("http://" in t for t in titles) and any("NODE_TLS_REJECT_UNAUTHORIZED=0" in t for t in titles), titles
    assert all(f["severity"] == "warning" for f in titles.values())


# -- the fallback: npm's own words ------------------------------------------------------------------------------


@pytest.mark.parametrize("report", ["text", "json"])
def test_a_failure_no_rule_knows_quotes_npm_from_its_debug_log(npm_any, verdaccio, lab_pki, squid_factory, report):
    """In text mode npm keeps the terminal (its output is not captured): npm's words come from its debug log."""
    squid = squid_factory()
    configure(npm_any, verdaccio, lab_pki, proxy=squid.url)
    (npm_any.project / "package.json").write_text('{"name": "lab-app", "version": "1.0.0", "dependencies": {')
    run = run_inspector(npm_any, report=report, npm_args=["install"])
    assert run.exit == 1
    if report == "json":
        finding = top(run)
        assert finding["rule"] == "npm-error" and "EJSONPARSE" in finding["title"]
        assert run.report["npm"]["error"]["source"] == "npm's debug log"
        assert "No request reached npm-inspect" in finding["explanation"]
    else:
        text = run.process.stdout
        assert "npm said: EJSONPARSE" in text and "npm-error" in text and "No failures." not in text
        assert "from npm's debug log" in text

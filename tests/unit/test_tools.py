"""Each tool through the same engine: its words read, the rules worded for it, the fixes in its syntax, and ``w``
writing its own files (with the backup and the git-tracked-secret refusal every tool gets).

Pure logic over synthetic records and files the test writes; the real tools run in tests/e2e/test_tools_lab.py.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from inspector.clients import adapter_for
from inspector.clients.common import Detection
from inspector.clients.render import for_tool, npm_config_change
from inspector.clients.writes import edit_text
from inspector.diagnose import diagnose
from inspector.diagnose.findings import ConfigChange, Finding
from inspector.errors import SecretLeakError
from inspector.fixes import apply_write, masked_step, plan_writes
from inspector.npmconfig import ConfigValue, NpmConfigSnapshot
from inspector.npmoutcome import NpmOutcome, collect, packages_named, read_tool_output
from inspector.records import ErrorInfo, Evidence, Hop
from inspector.report import render
from inspector.runner import resolve_upstream
from inspector.session import SessionInfo
from tests.strategies import make_exchange

TOKEN = "npm_SeCrEtT0kenValue1234567890abcd"
SQUID = dict(server="squid/5.7", via="1.1 corp-proxy (squid/5.7)")
BASIC = Evidence(status_line="HTTP/1.1 407 x", proxy_authenticate=('Basic realm="Corp"',), **SQUID)


# -- the tools' own words (measured output) -----------------------------------------------------------

PNPM_401 = """Error: ERR_PNPM_FETCH_401

  × installing dependencies
  ╰─▶ Failed to resolve dependency tree: GET https://registry.lab.test:58645/
      @corp%2Fsecret: Unauthorized - 401
  help: No authorization header was set for the request.
"""
PNPM_407 = """Error:   × installing dependencies
  ╰─▶ Failed to resolve dependency tree: Failed to resolve dependency: Failed
      to fetch metadata from https://registry.lab.test:58645/lab-hello: error
      sending request for url (https://registry.lab.test:58645/lab-hello)
"""
PNPM_IMMATURE = """Error: ERR_PNPM_NO_MATURE_MATCHING_VERSION

  × installing dependencies
  ╰─▶ 1 version does not meet the minimumReleaseAge constraint:
        lab-hello@1.1.0 was published at 2026-11-29T20:34:45.303Z, within the
      minimumReleaseAge cutoff (2026-11-28T20:41:55.366Z)
  help: Run the install interactively to approve these picks, add them to
        minimumReleaseAgeExclude in pnpm-workspace.yaml, or wait for the
        packages to mature.
"""
YARN1_407 = """yarn install v1.22.22
info There appears to be trouble with your network connection. Retrying...
error Error: https://registry.lab.test:58645/lab-hello: tunneling socket could not be established, statusCode=407
    at ClientRequest.onConnect (/x/yarn/lib/cli.js:152885:19)
info Visit https://yarnpkg.com/en/docs/cli/install for documentation about this command.
"""
YARN1_CRASH = """/x/yarn/lib/cli.js:66658
            throw new (_errors || _load_errors()).ResponseError(_this3.reporter.lang('requestFailed', description), res.statusCode);
            ^

ResponseError: Request failed "502 Bad Gateway"
    at ResponseError.ExtendableBuiltin (/x/yarn/lib/cli.js:696:66)
"""
BERRY_401 = """➤ YN0000: · Yarn 4.18.1
➤ YN0000: ┌ Resolution step
➤ YN0041: │ @corp/secret@npm:1.0.0: Invalid authentication (as an anonymous user)
➤ YN0000: └ Completed
➤ YN0000: · Failed with errors in 0s 143ms
"""
BERRY_QUARANTINED = """➤ YN0000: ┌ Resolution step
➤ YN0016: │ lab-hello@npm:1.1.0: All versions satisfying "1.1.0" are quarantined
➤ YN0016: │ @corp/secret@npm:1.0.0: All versions satisfying "1.0.0" are quarantined
➤ YN0000: └ Completed
"""
BUN_407 = """bun install v1.4.4 (38afee6c8)
Resolving dependencies
error: ProxyConnectFailed (407) downloading package manifest lab-hello
error: lab-hello@1.1.0 failed to resolve
"""


@pytest.mark.parametrize(
    ("tool", "output", "code", "first"),
    [
        ("pnpm", PNPM_401, "ERR_PNPM_FETCH_401", "Failed to resolve dependency tree: GET https://registry.lab.test:58645/@corp%2Fsecret:"),
        ("pnpm", PNPM_407, None, "Failed to resolve dependency tree: Failed to resolve dependency: Failed to fetch metadata from https://registry.lab.test:58645/lab-hello: error sending request for url"),
        ("pnpm", PNPM_IMMATURE, "ERR_PNPM_NO_MATURE_MATCHING_VERSION", "1 version does not meet the minimumReleaseAge constraint: lab-hello@1.1.0 was published at"),
        ("yarn-classic", YARN1_407, None, "https://registry.lab.test:58645/lab-hello: tunneling socket could not be established, statusCode=407"),
        ("yarn-classic", YARN1_CRASH, None, 'ResponseError: Request failed "502 Bad Gateway"'),
        ("yarn-berry", BERRY_401, "YN0041", "YN0041: @corp/secret@npm:1.0.0: Invalid authentication (as an anonymous user)"),
        ("bun", BUN_407, "ProxyConnectFailed", "ProxyConnectFailed (407) downloading package manifest lab-hello"),
    ],
    ids=["pnpm-401", "pnpm-407", "pnpm-immature", "yarn1-407", "yarn1-crash", "berry-401", "bun-407"],
)
def test_each_tools_error_lines_are_read_from_its_output(tool, output, code, first):
    words = read_tool_output(tool, output)
    assert words.code == code
    assert words.message[0].startswith(first), words.message
    outcome = collect(1, output=output, tool=tool)
    assert outcome.source.endswith("'s output") and outcome.log_file is None
    assert "installing dependencies" not in outcome.headline  # pnpm's "what" line comes after its "why"


@pytest.mark.parametrize(
    ("tool", "output"), [("pnpm", PNPM_407), ("yarn-classic", YARN1_407), ("yarn-berry", BERRY_401), ("bun", BUN_407)], ids=lambda v: v if len(v) < 20 else ""
)
def test_a_tool_that_failed_with_nothing_on_the_wire_gets_the_fallback_in_its_own_name(tool, output):
    outcome = collect(1, output=output, tool=tool)
    (finding,) = diagnose([], NpmConfigSnapshot(), outcome, tool=tool)
    name = {"yarn-classic": "yarn classic", "yarn-berry": "yarn berry"}.get(tool, tool)
    assert finding.rule == "npm-error" and finding.title.startswith(f"{name} failed: ")
    assert finding.explanation.startswith(f"{name} said (from") and "\nnpm said" not in finding.explanation


# -- rules worded per tool --------------------------------------------------------------------------------


def config(layer: str = "user", env: dict | None = None, **values: str) -> NpmConfigSnapshot:
    return NpmConfigSnapshot(
        values={k: ConfigValue(k, v, layer, f"/p/{k}") for k, v in values.items()},
        env_proxy=env or {},
    )


def connect(status: int, **kw):
    return make_exchange(kind="connect", status=status, hop=Hop.PROXY, upstream="127.0.0.1:3128", **kw)


@pytest.mark.parametrize(
    ("tool", "words", "command"),
    [
        ("pnpm", "error sending request for url", "pnpm config set https-proxy 'http://<user>:<password>@proxy.corp:3128'"),
        ("yarn-classic", "statusCode=407", "yarn config set https-proxy 'http://<user>:<password>@proxy.corp:3128'"),
        ("yarn-berry", "Bad response: 407", "yarn config set -H httpsProxy 'http://<user>:<password>@proxy.corp:3128'"),
        ("bun", "ProxyConnectFailed (407)", "export HTTPS_PROXY='http://<user>:<password>@proxy.corp:3128'"),
    ],
)
def test_a_407_is_explained_in_the_tools_words_with_the_fix_in_its_syntax(tool, words, command):
    snap = config(**{"https-proxy": "http://proxy.corp:3128"})
    findings = for_tool(diagnose([connect(407, evidence=BASIC)], snap, tool=tool), tool)
    (finding,) = findings
    assert finding.rule == "proxy-auth-required" and words in finding.explanation
    assert command in finding.commands and not any(c.startswith("npm config") for c in finding.commands)
    assert finding.changes[0].key in ("proxy", "https-proxy")  # changes stay in npm's names for --verify-fix


def test_npms_own_findings_are_unchanged():
    snap = config(**{"https-proxy": "http://proxy.corp:3128"})
    findings = diagnose([connect(407, evidence=BASIC)], snap)
    assert for_tool(findings, "npm") == findings
    assert "npm prints this as E407" in findings[0].explanation


@pytest.mark.parametrize("tool", ["yarn-berry", "yarn-classic"])
def test_tools_without_noproxy_say_so_instead_of_proposing_it(tool):
    ev = Evidence(status_line="HTTP/1.1 503 x", squid_error="ERR_DNS_FAIL 0", **SQUID)
    denied = connect(503, host="nexus.corp.internal", port=443, evidence=ev)
    (finding,) = for_tool(diagnose([denied], config(), tool=tool), tool)
    assert finding.rule == "noproxy-internal-registry"
    assert finding.changes == () and finding.commands == ()
    assert "has no noproxy setting" in finding.explanation


def test_bun_gets_noproxy_as_an_exported_variable():
    ev = Evidence(status_line="HTTP/1.1 503 x", squid_error="ERR_DNS_FAIL 0", **SQUID)
    denied = connect(503, host="nexus.corp.internal", port=443, evidence=ev)
    (finding,) = for_tool(diagnose([denied], config(), tool="bun"), "bun")
    assert finding.commands == ("export NO_PROXY=nexus.corp.internal",)
    assert any("environment only" in c for c in finding.caveats)


def test_yarn_berry_ignoring_https_proxy_is_said_and_fixed_in_yarnrc():
    direct = make_exchange(kind="connect", status=None, hop=Hop.REGISTRY, upstream=None, error=ErrorInfo("connect-failed", "x"))
    snap = config(env={"HTTPS_PROXY": "http://proxy.corp:3128"})
    (finding,) = [f for f in for_tool(diagnose([direct], snap, tool="yarn-berry"), "yarn-berry") if f.rule == "proxy-missing-https"]
    assert "yarn berry ignores HTTPS_PROXY" in finding.title
    assert finding.commands == ("yarn config set -H httpsProxy http://proxy.corp:3128",)
    assert "proxy-missing-https" not in {f.rule for f in diagnose([direct], config(env={"HTTP_PROXY": "http://p:1"}), tool="yarn-classic")}


def test_pnpm_looking_itself_up_is_not_a_missing_package():
    self_check = make_exchange(status=404, hop=Hop.REGISTRY, path="/pnpm", upstream="127.0.0.1:3128")
    assert diagnose([self_check], config(), NpmOutcome(exit_code=0), tool="pnpm") == []
    assert [f.rule for f in diagnose([self_check], config(), NpmOutcome(exit_code=0))] == ["package-not-found"]  # npm asked for it


@pytest.mark.parametrize(
    ("tool", "output", "edit"),
    [
        ("yarn-berry", BERRY_QUARANTINED, "in .yarnrc.yml (in the project):\nnpmPreapprovedPackages:\n  - lab-hello\nnpmScopes:\n  corp:\n    npmMinimalAgeGate: 0"),
        ("pnpm", PNPM_IMMATURE, "in pnpm-workspace.yaml:\nminimumReleaseAgeExclude:\n  - lab-hello"),
    ],
    ids=["yarn-berry", "pnpm"],
)
def test_a_version_held_back_by_the_age_gate_is_package_quarantined(tool, output, edit):
    outcome = collect(1, output=output, tool=tool)
    (finding,) = diagnose([make_exchange(status=200, hop=Hop.REGISTRY, path="/lab-hello")], config(), outcome, tool=tool)
    assert finding.rule == "package-quarantined" and finding.hop == Hop.CLIENT and finding.severity == "error"
    assert finding.commands == (edit,)
    assert "published" in finding.explanation and "lab-hello" in finding.title
    assert diagnose([], config(), outcome, tool="npm")[0].rule == "npm-error"  # npm has no such gate


# -- commands in the tool's syntax ----------------------------------------------------------------------


def test_npm_config_commands_are_read_back_into_changes():
    assert npm_config_change("npm config set 'https-proxy=http://u:<password>@p:1' --location=project") == ConfigChange(
        "set", "https-proxy", "http://u:<password>@p:1", "project"
    )
    assert npm_config_change("npm config delete strict-ssl --location=user") == ConfigChange("delete", "strict-ssl", None, "user")
    assert npm_config_change("npm whoami --registry=https://r/") is None


@pytest.mark.parametrize(
    ("tool", "command", "expected"),
    [
        ("pnpm", "npm config get https-proxy", "pnpm config get https-proxy"),
        ("yarn-berry", "npm config get https-proxy", "yarn config get httpsProxy"),
        ("bun", "npm config get https-proxy", "echo $HTTPS_PROXY"),
        ("pnpm", "npm login --registry=https://r/", "pnpm login --registry=https://r/"),
        ("yarn-berry", "npm login --registry=https://r/", "yarn npm login"),
        ("yarn-classic", "npm login --registry=https://r/", "npm login --registry=https://r/"),  # yarn 1 reads npm's .npmrc token
        ("bun", "npm view lab-hello versions --registry=https://r/", "npm view lab-hello versions --registry=https://r/"),
    ],
)
def test_other_npm_commands_become_the_tools_own(tool, command, expected):
    finding = Finding("x", "error", Hop.PROXY, "t", "e", commands=(command,))
    assert for_tool([finding], tool)[0].commands == (expected,)


@pytest.mark.parametrize("tool", ["pnpm", "yarn-berry", "yarn-classic", "bun"])
def test_a_tried_token_is_masked_in_the_tools_syntax(tool):
    step = masked_step(adapter_for(tool), ConfigChange("set", "//npm.corp/:_authToken", TOKEN))
    assert TOKEN not in step and "[redacted:" in step


# -- the upstream's source and the session's tool -----------------------------------------------------


def test_the_upstream_source_names_the_tools_own_setting_and_file():
    from inspector.npmconfig import RawLayer, RawNpmConfig

    raw = RawNpmConfig(layers=[RawLayer("project", "/p/.yarnrc.yml", {"https-proxy": "http://carol:pw@proxy.corp:3128"})], effective={})
    upstream, source = resolve_upstream(raw, None, tool="yarn-berry", origins={"https-proxy": "/p/.yarnrc.yml: httpsProxy"})
    assert upstream.credentials == "carol:pw" and source == "yarn berry httpsProxy (/p/.yarnrc.yml)"
    env_only = RawNpmConfig(layers=[], effective={}, env={"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://h:2"})
    assert resolve_upstream(env_only, None, tool="yarn-berry") == (None, None)  # berry ignores the variables
    assert resolve_upstream(env_only, None, tool="bun")[1] == "environment HTTPS_PROXY"
    http_only = RawNpmConfig(layers=[], effective={}, env={"HTTP_PROXY": "http://h:2"})
    assert resolve_upstream(http_only, None, tool="yarn-classic")[1] == "environment HTTP_PROXY"  # yarn 1 falls back on it
    assert resolve_upstream(http_only, None, tool="npm") == (None, None)


def test_the_journal_and_the_reports_name_the_tool_and_its_version():
    info = SessionInfo(npm_argv=["yarn", "install"], tool="yarn-berry", tool_version="4.18.1", tool_display="yarn 4.18.1 (berry)",
                       tool_notes=["HTTPS_PROXY is set, but yarn berry ignores the proxy environment"], npm_exit=1)
    again = SessionInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert (again.tool, again.tool_version, again.tool_label) == ("yarn-berry", "4.18.1", "yarn 4.18.1 (berry)")
    report = json.loads(render("json", info, [], []))
    assert report["tool"] == {"name": "yarn-berry", "version": "4.18.1", "display": "yarn 4.18.1 (berry)", "notes": info.tool_notes}
    assert "tool: yarn 4.18.1 (berry)" in render("text", info, [], [])
    assert "yarn 4.18.1 (berry)" in render("markdown", info, [], [])
    assert SessionInfo.from_dict({"npm_argv": ["npm", "ci"], "npm_version": "11.19.0"}).tool_label == "npm 11.19.0"  # older files


# -- w: the tool's own files --------------------------------------------------------------------------------


@dataclass
class Target:
    """What ``plan_writes`` needs of a session: the adapter and the tool's config, read from the test's files."""

    tool: str
    proj: Path
    home: Path

    @property
    def adapter(self):
        return adapter_for(self.tool)

    @property
    def client(self):
        detection = Detection(self.tool, f"/bin/{self.tool}", "1.0.0", str(self.proj))  # type: ignore[arg-type]
        return self.adapter.read_config(detection, [self.tool, "install"], cwd=str(self.proj), env=self.base_env())

    @property
    def argv(self) -> list[str]:
        return [self.tool, "install"]

    def base_env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / ".config"), "PATH": "/usr/bin:/bin"}


def target(tmp_path: Path, tool: str) -> Target:
    proj, home = tmp_path / "proj", tmp_path / "home"
    proj.mkdir()
    (home / ".config").mkdir(parents=True)
    (proj / "package.json").write_text('{"name": "app"}')
    return Target(tool, proj, home)


def finding_with(*changes: ConfigChange) -> Finding:
    return Finding("r", "error", Hop.PROXY, "t", "e", changes=changes)


def test_w_writes_yarn_berrys_setting_into_the_yarnrc_yml_that_sets_it_keeping_its_comments(tmp_path):
    t = target(tmp_path, "yarn-berry")
    rc = t.proj / ".yarnrc.yml"
    rc.write_text("# our proxy\nhttpsProxy: http://proxy.corp:3128  # the old one\nnodeLinker: node-modules\n")
    change = ConfigChange("set", "https-proxy", "http://carol:p%40ss@proxy.corp:3128", "project")
    (plan,) = plan_writes(finding_with(change), [change], t)
    assert plan.path == rc and plan.format == "yaml" and plan.described == f"the project yarn berry config {rc}"
    assert plan.shown == ['httpsProxy: "http://carol:***@proxy.corp:3128"']
    backup = apply_write(plan, t.client.raw)
    text = rc.read_text()
    assert "# our proxy" in text and "nodeLinker: node-modules" in text and "carol:p%40ss@proxy.corp" in text
    assert backup is not None and "http://proxy.corp:3128" in backup.read_text() and oct(backup.stat().st_mode & 0o777) == "0o600"


def test_w_writes_a_berry_token_into_the_home_yarnrc_yml_under_npm_registries(tmp_path):
    t = target(tmp_path, "yarn-berry")
    change = ConfigChange("set", "//npm.corp/:_authToken", TOKEN)
    (plan,) = plan_writes(finding_with(change), [change], t)
    assert plan.path == t.home / ".yarnrc.yml" and TOKEN not in " ".join(plan.shown)
    apply_write(plan, t.client.raw)
    again = t.client
    assert again.raw.get("//npm.corp/:_authToken") == TOKEN  # the adapter reads back what w wrote


def test_w_writes_bun_scopes_into_bunfig_keeping_a_scopes_token_and_refuses_proxies(tmp_path):
    t = target(tmp_path, "bun")
    bunfig = t.proj / "bunfig.toml"
    bunfig.write_text('# mine\n[install]\nregistry = "https://npm.corp/"\n\n[install.scopes]\ncorp = { url = "https://old/", token = "$CORP_TOKEN" }\n')
    scope = ConfigChange("set", "@corp:registry", "https://new.corp/", "project")
    proxy = ConfigChange("set", "https-proxy", "http://proxy.corp:3128", "user")
    plans = plan_writes(finding_with(scope, proxy), [scope, proxy], t)
    writable = [p for p in plans if p.unsupported is None]
    (unsupported,) = [p for p in plans if p.unsupported is not None]
    assert "environment" in unsupported.unsupported and unsupported.shown == ["export HTTPS_PROXY=http://proxy.corp:3128"]
    with pytest.raises(SecretLeakError):
        apply_write(unsupported, t.client.raw)
    (plan,) = writable
    apply_write(plan, t.client.raw)
    text = bunfig.read_text()
    assert text.startswith("# mine\n") and 'corp = { url = "https://new.corp/", token = "$CORP_TOKEN" }' in text
    assert t.client.raw.get("@corp:registry") == "https://new.corp/"


def test_w_writes_pnpms_proxy_where_pnpm_reads_it_and_strict_ssl_never_in_yaml(tmp_path):
    t = target(tmp_path, "pnpm")
    (t.proj / "pnpm-workspace.yaml").write_text("httpsProxy: http://old:1\nminimumReleaseAge: 0\n")
    proxy = ConfigChange("set", "https-proxy", "http://new:2", "project")
    strict = ConfigChange("delete", "strict-ssl", None, "user")
    plans = plan_writes(finding_with(proxy, strict), [proxy, strict], t)
    assert {(p.path, p.format) for p in plans} == {
        (t.proj / "pnpm-workspace.yaml", "yaml"),
        (t.home / ".config" / "pnpm" / "auth.ini", "npmrc"),
    }
    for plan in plans:
        apply_write(plan, t.client.raw)
    assert "httpsProxy: http://new:2" in (t.proj / "pnpm-workspace.yaml").read_text()
    assert t.client.raw.get("https-proxy") == "http://new:2"


def test_w_writes_yarn_classic_tokens_into_the_npmrc_it_reads_and_other_keys_into_yarnrc(tmp_path):
    t = target(tmp_path, "yarn-classic")
    token = ConfigChange("set", "//npm.corp/:_authToken", TOKEN)
    registry = ConfigChange("set", "registry", "https://npm.corp/", "project")
    plans = {p.format: p for p in plan_writes(finding_with(token, registry), [token, registry], t)}
    assert plans["npmrc"].path == t.home / ".npmrc" and plans["yarnrc"].path == t.proj / ".yarnrc"
    for plan in plans.values():
        apply_write(plan, t.client.raw)
    assert (t.proj / ".yarnrc").read_text() == 'registry "https://npm.corp/"\n'
    assert t.client.raw.get("//npm.corp/:_authToken") == TOKEN


def test_w_refuses_a_secret_in_a_git_tracked_project_yarnrc_yml_and_offers_a_variable(tmp_path):
    t = target(tmp_path, "yarn-berry")
    rc = t.proj / ".yarnrc.yml"
    rc.write_text("httpsProxy: http://proxy.corp:3128\n")
    for command in (["init", "-q"], ["add", ".yarnrc.yml"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "rc"]):
        subprocess.run(["git", *command], cwd=t.proj, check=True, capture_output=True)
    original = ConfigChange("set", "https-proxy", "http://<user>:<password>@proxy.corp:3128", "project")
    filled = ConfigChange("set", "https-proxy", "http://carol:S3cret@proxy.corp:3128", "project")
    (plan,) = plan_writes(finding_with(original), [filled], t)
    assert plan.refused and "tracked by git" in plan.refused and "${VAR}" in plan.refused
    assert plan.env_shown == ['httpsProxy: "http://carol:${NPM_PROXY_PASSWORD}@proxy.corp:3128"']
    with pytest.raises(SecretLeakError):
        apply_write(plan, t.client.raw)
    apply_write(plan, t.client.raw, use_env=True)
    assert "S3cret" not in rc.read_text() and "${NPM_PROXY_PASSWORD}" in rc.read_text()


def test_yarn_berry_scope_entry_without_a_registry_goes_to_yarns_default(tmp_path):
    t = target(tmp_path, "yarn-berry")
    (t.proj / ".yarnrc.yml").write_text("npmRegistryServer: https://npm.corp\nnpmScopes:\n  corp:\n    npmMinimalAgeGate: 0\n")
    config = t.client
    assert config.raw.get("@corp:registry") == "https://registry.yarnpkg.com/"
    assert any("names no npmRegistryServer" in note for note in config.notes)


# -- the formats ------------------------------------------------------------------------------------------


def test_toml_edits_add_a_table_and_remove_a_key_leaving_the_rest():
    text = '[install]\nregistry = "https://a/"\ncafile = "/x.pem"\n'
    added = edit_text("toml", text, [("install.scopes.corp", "https://c/")])
    assert added == '[install]\nregistry = "https://a/"\ncafile = "/x.pem"\n\n[install.scopes]\ncorp = "https://c/"\n'
    assert edit_text("toml", added, [("install.cafile", None)]) == '[install]\nregistry = "https://a/"\n\n[install.scopes]\ncorp = "https://c/"\n'


def test_yarnrc_and_npmrc_edits_replace_the_keys_line():
    assert edit_text("yarnrc", 'registry "a"\n"@corp:registry" "b"\n', [("@corp:registry", "c")]) == 'registry "a"\n"@corp:registry" "c"\n'
    assert edit_text("npmrc", "a=1\nb=2\n", [("a", None), ("c", "3")]) == "b=2\nc=3\n"


@pytest.mark.parametrize(
    ("tool", "output"),
    [
        ("pnpm", "Error: ERR_PNPM_NO_MATCHING_VERSION\n\n  × installing dependencies\n  ╰─▶ Failed to resolve dependency tree: No matching version found for lab-\n      hello@^3.0.0 while fetching it from https://registry.lab.test:58645/\n"),
        ("yarn-classic", 'info Visit https://yarnpkg.com/en/docs/cli/install for documentation about this command.\nerror Couldn\'t find any versions for "lab-hello" that matches "^3.0.0"\n'),
        ("yarn-berry", "➤ YN0000: ┌ Resolution step\n➤ YN0082: │ lab-hello@npm:^3.0.0: No candidates found\n➤ YN0000: └ Completed\n"),
        ("bun", 'error: No version matching "^3.0.0" found for specifier "lab-hello" (but package exists)\nerror: lab-hello@^3.0.0 failed to resolve\n'),
    ],
    ids=["pnpm", "yarn-classic", "yarn-berry", "bun"],
)
def test_no_matching_version_in_each_tools_words_is_version_not_found_with_what_the_registry_has(tool, output):
    outcome = collect(1, output=output, tool=tool)
    assert packages_named(outcome.text()) == ["lab-hello"]
    outcome = replace(outcome, versions=(("lab-hello", ("1.0.0", "1.1.0"), (("latest", "1.1.0"),)),))
    (finding,) = diagnose([], NpmConfigSnapshot(), outcome, tool=tool)
    assert finding.rule == "version-not-found" and finding.title.endswith("matches ^3.0.0")
    assert "It lists 1.0.0, 1.1.0; latest is 1.1.0." in finding.explanation and "npm install --prefer-online" not in finding.commands


def test_a_pnpm_deletion_on_a_copy_also_leaves_the_user_npmrc(tmp_path):
    """auth.ini beats ~/.npmrc: removing strict-ssl=false only from the auth.ini copy would leave it in force."""
    t = target(tmp_path, "pnpm")
    (t.home / ".npmrc").write_text("strict-ssl=false\nregistry=https://npm.corp/\n")
    config = t.client
    assert config.raw.get("strict-ssl") == "false"
    copy = t.adapter.apply_to_copy([ConfigChange("delete", "strict-ssl")], config, t.argv, env=t.base_env())
    with copy.injection as injection:
        again = t.adapter.read_config(
            Detection("pnpm", "/bin/pnpm", "1.0.0", str(t.proj)), t.argv, cwd=str(t.proj), env=injection.child_env(t.base_env())
        )
        assert again.raw.get("strict-ssl") is None and again.raw.get("registry") == "https://npm.corp/"
    assert (t.home / ".npmrc").read_text().startswith("strict-ssl=false")

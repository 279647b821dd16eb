"""npm's effective config: which layer set each key, with secrets kept only as fingerprints."""

import json
import os

import pytest

from inspector.npmconfig import (
    NpmConfigSnapshot,
    RawLayer,
    RawNpmConfig,
    cli_layer,
    env_layer,
    nerf_dart,
    parse_npmrc,
    read_npm_config,
)

TOKEN = "npm_" + "Z" * 36


def test_npmrc_parsing_handles_quotes_comments_arrays_and_env():
    text = """
    ; a comment
    # another
    registry = "https://nexus.corp/repository/npm-group/"
    ca[]="one"
    ca[]="two"
    //nexus.corp/repository/npm-group/:_authToken=${NEXUS_TOKEN}
    strict-ssl=false
    """
    values = parse_npmrc(text, {"NEXUS_TOKEN": TOKEN})
    assert values["registry"] == "https://nexus.corp/repository/npm-group/"
    assert values["ca"] == ["one", "two"]
    assert values["//nexus.corp/repository/npm-group/:_authToken"] == TOKEN
    assert values["strict-ssl"] == "false"


def test_unknown_env_references_stay_as_written_unless_optional():
    assert parse_npmrc("a=${NOPE}\nb=${NOPE?}", {}) == {"a": "${NOPE}", "b": ""}


def test_env_layer_reads_npm_config_variables_like_npm():
    env = {"npm_config_https_proxy": "http://p:3128", "NPM_CONFIG_STRICT_SSL": "false", "npm_config__auth": "x", "npm_config_empty": ""}
    assert env_layer(env) == {"https-proxy": "http://p:3128", "strict-ssl": "false", "_auth": "x"}


def test_cli_layer_reads_flags_in_both_forms():
    args = ["install", "lodash", "--registry", "https://r/", "--https-proxy=http://p:1", "--no-strict-ssl", "--@corp:registry=https://c/"]
    assert cli_layer(args) == {"registry": "https://r/", "https-proxy": "http://p:1", "strict-ssl": "false", "@corp:registry": "https://c/"}


def test_nerf_darts_drop_the_scheme_and_keep_the_directory():
    assert nerf_dart("https://nexus.corp/repository/npm-group/lodash") == "//nexus.corp/repository/npm-group/"
    assert nerf_dart("http://registry.lab.test:4873/") == "//registry.lab.test:4873/"


def _raw(**layers) -> RawNpmConfig:
    order = ["cli", "env", "project", "user", "global", "builtin"]
    return RawNpmConfig(
        layers=[RawLayer(name, f"/cfg/{name}" if name in ("project", "user", "global") else None, layers.get(name, {})) for name in order],
        effective={"registry": "https://registry.npmjs.org/", "strict-ssl": True},
        env={"HTTPS_PROXY": "http://carol:hunter2@proxy.corp:3128"},
    )


def test_the_highest_layer_wins_and_lower_ones_are_listed():
    raw = _raw(user={"registry": "https://user/"}, project={"registry": "https://project/"})
    snap = raw.snapshot()
    assert snap.values["registry"].value == "https://project/"
    assert snap.values["registry"].layer == "project" and snap.values["registry"].source == "/cfg/project"
    assert snap.values["registry"].overrides == (("user", "https://user/"),)


def test_secrets_are_kept_only_as_set_where_and_fingerprint():
    raw = _raw(
        user={"//nexus.corp/repository/npm-group/:_authToken": TOKEN, "https-proxy": "http://carol:hunter2@proxy.corp:3128"},
    )
    snap = raw.snapshot()
    dumped = json.dumps(snap.to_dict())
    assert TOKEN not in dumped and "hunter2" not in dumped
    (entry,) = snap.auth
    assert entry.nerf == "//nexus.corp/repository/npm-group/" and entry.field == "_authToken" and entry.layer == "user"
    assert entry.fingerprint and len(entry.fingerprint) == 8
    assert snap.values["https-proxy"].value == "http://carol:***@proxy.corp:3128"
    assert snap.env_proxy == {"HTTPS_PROXY": "http://carol:***@proxy.corp:3128"}


def test_auth_for_walks_up_the_registry_path_like_npm():
    snap = _raw(user={"//nexus.corp/:_authToken": TOKEN}).snapshot()
    assert [a.field for a in snap.auth_for("https://nexus.corp/repository/npm-group/lodash")] == ["_authToken"]
    assert snap.auth_for("https://other.corp/x") == []


def test_scoped_registries_are_found():
    snap = _raw(project={"@corp:registry": "https://nexus.corp/npm/"}).snapshot()
    assert snap.registry_for("@corp/secret") == "https://nexus.corp/npm/"
    assert snap.registry_for("lodash") == "https://registry.npmjs.org/"


def test_a_snapshot_survives_json():
    snap = _raw(user={"//nexus.corp/:_authToken": TOKEN, "@corp:registry": "https://n/"}).snapshot()
    assert NpmConfigSnapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap


def test_reading_the_real_npm_config_attributes_layers(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text("{}")
    (project / ".npmrc").write_text(f"@corp:registry=https://nexus.corp/npm/\n//nexus.corp/npm/:_authToken={TOKEN}\n")
    user = tmp_path / "user.npmrc"
    user.write_text("registry=https://mirror.corp/npm/\nproxy=http://carol:hunter2@proxy.corp:3128\n")
    monkeypatch.setenv("npm_config_userconfig", str(user))
    monkeypatch.setenv("npm_config_strict_ssl", "false")
    raw = read_npm_config(cwd=str(project), env=dict(os.environ), npm_args=["install", "--registry=https://cli.corp/"])
    snap = raw.snapshot()
    assert raw.proxy == "http://carol:hunter2@proxy.corp:3128"  # raw keeps it for the runner...
    assert "hunter2" not in json.dumps(snap.to_dict())  # ...the snapshot never does
    assert snap.values["registry"].layer == "cli"
    assert snap.values["registry"].overrides[0] == ("user", "https://mirror.corp/npm/")
    assert snap.values["@corp:registry"].layer == "project"
    assert snap.values["strict-ssl"].layer == "env"
    assert snap.files["user"] == str(user)
    assert snap.npm_version and snap.node_version


def test_a_broken_npm_is_reported_as_such(tmp_path):
    from inspector.errors import NpmNotFoundError

    with pytest.raises(NpmNotFoundError, match="PATH"):
        read_npm_config(env={"PATH": str(tmp_path)})

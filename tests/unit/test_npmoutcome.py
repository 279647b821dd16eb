"""npm's own words: read from its output and its debug log (the shapes npm 11.19 and 12.2 write), redacted."""

from __future__ import annotations

import json
import os
import time

from inspector.npmoutcome import (
    NpmOutcome,
    collect,
    find_debug_log,
    lockfile_hosts,
    logs_dir,
    packages_named,
    read_debug_log,
    read_output,
    registry_base,
)

OUTPUT_404 = """npm error code E404
npm error 404 Not Found - GET https://registry.lab.test:54187/lab-nope - no such package available
npm error 404
npm error 404  The requested resource 'lab-nope@*' could not be found or you do not have permission to access it.
npm error A complete log of this run can be found in: /home/u/.npm/_logs/2026-11-29T18_23_08_382Z-debug-0.log
"""

LOG_INVALID_AUTH = """0 verbose cli /usr/bin/node /usr/bin/npm
1 info using npm@12.2.0
7 verbose title npm view lab-hello version
11 warn invalid config fetch-timeout="abc" set in /home/u/.npmrc
12 warn invalid config Must be numeric value
12 verbose stack Error: Invalid auth configuration found: `_auth` must be renamed to `//registry.lab.test:54187/:_auth` in user config
13 error code ERR_INVALID_AUTH
14 error Invalid auth configuration found: `_auth` must be renamed to `//registry.lab.test:54187/:_auth` in user config
14 error Please run `npm config fix` to repair your configuration.`
14 http fetch GET https://registry.lab.test:54187/lab-hello attempt 1 failed with ERR_INVALID_ARG_TYPE
19 verbose exit 1
21 error A complete log of this run can be found in: /home/u/.npm/_logs/2026-11-29T18_23_08_382Z-debug-0.log
"""


def test_the_output_gives_code_message_and_the_log_path():
    words = read_output(OUTPUT_404)
    assert words.code == "E404"
    assert words.message[0].startswith("404 Not Found - GET https://registry.lab.test:54187/lab-nope")
    assert words.log_file == "/home/u/.npm/_logs/2026-11-29T18_23_08_382Z-debug-0.log"
    assert not any("complete log" in line for line in words.message)


def test_the_debug_log_gives_code_message_warnings_and_failed_requests():
    words = read_debug_log(LOG_INVALID_AUTH)
    assert words.code == "ERR_INVALID_AUTH"
    assert words.message == [
        "Invalid auth configuration found: `_auth` must be renamed to `//registry.lab.test:54187/:_auth` in user config",
        "Please run `npm config fix` to repair your configuration.`",
    ]
    assert 'invalid config fetch-timeout="abc" set in /home/u/.npmrc' in words.warnings
    assert words.fetch_failures == ["GET https://registry.lab.test:54187/lab-hello → ERR_INVALID_ARG_TYPE"]


def test_old_npm_err_prefix_and_colours_are_read_too():
    words = read_output("\x1b[31mnpm ERR!\x1b[39m code E407\nnpm ERR! 407 Proxy Authentication Required - GET https://r/x\n")
    assert (words.code, words.message) == ("E407", ["407 Proxy Authentication Required - GET https://r/x"])


def test_secrets_in_npms_words_are_redacted():
    words = read_output("npm error code E401\nnpm error Incorrect or missing password. _authToken=npm_" + "a" * 36 + "\n")
    assert "npm_aaaa" not in " ".join(words.message) and "[redacted:" in " ".join(words.message)


def _touch_log(directory, at: float, name_suffix="debug-0.log") -> object:
    stamp = time.strftime("%Y-%m-%dT%H_%M_%S", time.gmtime(at)) + f"_{int(at * 1000) % 1000:03d}Z"
    path = directory / f"{stamp}-{name_suffix}"
    path.write_text(LOG_INVALID_AUTH)
    return path


def test_the_debug_log_of_the_run_is_the_first_one_started_after_npm(tmp_path):
    started = time.time()
    _touch_log(tmp_path, started - 0.4)  # npm-inspect's own 'npm config list' ran before
    mine = _touch_log(tmp_path, started + 0.05)
    _touch_log(tmp_path, started + 2.0)  # an npm run by a lifecycle script, later
    assert find_debug_log(tmp_path, started) == mine
    assert find_debug_log(tmp_path, started + 5) is None
    assert find_debug_log(tmp_path / "missing", started) is None


def test_logs_dir_follows_npms_rule():
    assert str(logs_dir({"cache": "/c"})) == "/c/_logs"
    assert str(logs_dir({"cache": "/c", "logs-dir": "/l"})) == "/l"
    assert logs_dir({}) is None


def test_collect_prefers_the_log_and_keeps_the_exit_status(tmp_path):
    started = time.time()
    _touch_log(tmp_path, started + 0.01)
    outcome = collect(1, logs=tmp_path, started=started)
    assert (outcome.exit_code, outcome.code, outcome.source) == (1, "ERR_INVALID_AUTH", "npm's debug log")
    assert outcome.headline.startswith("ERR_INVALID_AUTH — Invalid auth configuration")
    bare = collect(1, output=None, logs=tmp_path / "none", started=started)
    assert (bare.code, bare.source, bare.headline) == (None, "", "exit status 1")


def test_collect_falls_back_to_the_output_without_a_log(tmp_path):
    outcome = collect(1, output=OUTPUT_404.replace("/home/u/.npm/_logs", str(tmp_path)), logs=tmp_path, started=time.time())
    assert (outcome.code, outcome.source, outcome.log_file) == ("E404", "npm's output", None)


def test_the_outcome_round_trips_through_json():
    outcome = NpmOutcome(1, "ETARGET", ("No matching version found for x@^3.",), ("w",), (), "npm's output", None, "/p/package-lock.json", (("https://old/", 3),), (("x", ("1.0.0",), (("latest", "1.0.0"),)),))
    again = NpmOutcome.from_dict(json.loads(json.dumps(outcome.to_dict())))
    assert again == outcome
    assert again.versions_of("x") == (("1.0.0",), {"latest": "1.0.0"})
    assert NpmOutcome.from_dict(None) is None


def test_lockfile_registries_are_counted_with_their_path_prefix(tmp_path):
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "app"},
            "node_modules/lodash": {"resolved": "https://old.corp:8081/repository/npm/lodash/-/lodash-4.17.21.tgz"},
            "node_modules/@corp/ui": {"resolved": "https://old.corp:8081/repository/npm/@corp/ui/-/ui-1.0.0.tgz"},
            "node_modules/a/node_modules/b": {"resolved": "https://registry.npmjs.org/b/-/b-1.0.0.tgz"},
            "node_modules/local": {"resolved": "file:../local"},
        },
    }
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    path, hosts = lockfile_hosts(tmp_path)
    assert path == str(tmp_path / "package-lock.json")
    assert hosts == (("https://old.corp:8081/repository/npm/", 2), ("https://registry.npmjs.org/", 1))
    assert lockfile_hosts(tmp_path / "nothing") == (None, ())


def test_a_v1_lockfile_is_read_too(tmp_path):
    lock = {"lockfileVersion": 1, "dependencies": {"x": {"resolved": "http://m/x/-/x-1.tgz", "dependencies": {"y": {"resolved": "http://m/y/-/y-1.tgz"}}}}}
    (tmp_path / "npm-shrinkwrap.json").write_text(json.dumps(lock))
    assert lockfile_hosts(tmp_path)[1] == (("http://m/", 2),)


def test_registry_base_without_a_package_name():
    assert registry_base("https://r/repo/npm/@s/x/-/x-1.tgz", None) == "https://r/repo/npm/"
    assert registry_base("git+ssh://git@github.com/x.git", None) is None


def test_packages_named_in_npms_words():
    assert packages_named("No matching version found for lab-hello@^3.") == ["lab-hello"]
    assert packages_named('Refusing to fetch "@corp/ui@https://old/x.tgz"') == ["@corp/ui"]


def test_an_unreadable_log_does_not_break_collect(tmp_path):
    started = time.time()
    path = _touch_log(tmp_path, started + 0.01)
    os.chmod(path, 0)
    outcome = collect(2, logs=tmp_path, started=started)
    assert outcome.exit_code == 2


def test_a_token_in_an_invalid_config_warning_is_redacted():
    words = read_debug_log('3 warn invalid config _authToken="npm_' + "b" * 36 + '" set in /u/.npmrc\n')
    assert words.warnings and "npm_bbbb" not in words.warnings[0] and "[redacted:" in words.warnings[0]

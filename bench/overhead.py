"""How much does npm-inspect slow ``npm install`` down? Measured side by side in one run.

    .venv/bin/python bench/overhead.py [--packages 30] [--runs 7]

Installs a tree of ≥ 30 packages from the lab's Verdaccio (HTTPS) with a fresh
cache each time, in turn: straight through Squid, through bare ``mitmdump``
in upstream mode, and through npm-inspect's proxy (capture + CONNECT relay),
interleaved so that machine noise hits all three alike. Prints medians and
the ratios. Target: npm-inspect ≤ 1.05 × bare mitmdump.

It also times the whole ``npm-inspect run`` command, whose extra start-up
(reading npm's config, building the CA bundle, starting mitmproxy) is paid
once per run, not per request.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _lab import lab, median

from inspector.ca import ensure_ca
from inspector.proxy import InspectorProxy
from inspector.runner import RunRequest, child_command, prepare
from inspector.session import SessionStore
from tests.lab.npm import NpmEnv
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until


def npm_install(env: NpmEnv, package: str, argv_env: tuple[list[str], dict[str, str]] | None = None, extra: list[str] = ()) -> float:
    shutil.rmtree(env.cache, ignore_errors=True)
    shutil.rmtree(env.project / "node_modules", ignore_errors=True)
    env.cache.mkdir()
    if argv_env is None:
        argv, child_env = ["npm"], env.env()
    else:
        argv, child_env = argv_env
    start = time.perf_counter()
    result = subprocess.run([*argv, "install", package, "--no-package-lock", *extra], cwd=env.project, env=child_env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"npm install failed:\n{result.stderr[-2000:]}")
    return elapsed


def capture_cost_us(samples: int = 2000) -> tuple[float, float]:
    """CPU µs per exchange: on the proxy's loop (snapshotting facts) and on the record builder's thread.

    A stable figure, unlike wall time: the same packument exchange through the capture's hooks, then its facts
    through :func:`inspector.build.build_exchange` (what the worker thread does off the loop).
    """
    from mitmproxy import http
    from mitmproxy.test import taddons, tflow, tutils

    from inspector.build import build_exchange
    from inspector.capture import NpmCapture

    addon = NpmCapture(lambda record: None, offload=True)
    handed: list = []
    addon.handoff.put = handed.append  # keep the facts; build them below, timed apart
    request_headers = http.Headers(
        [(b"user-agent", b"npm/11.19.1 node/v20.20.2 linux x64 workspaces/false"), (b"npm-command", b"install"),
         (b"pacote-req-type", b"packument"), (b"accept", b"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"),
         (b"accept-encoding", b"gzip,deflate"), (b"host", b"registry.npmjs.org"), (b"authorization", b"Bearer npm_" + b"a" * 36)]
    )
    response_headers = http.Headers([(b"content-type", b"application/json"), (b"content-length", b"1200"), (b"etag", b'"abc"'), (b"x-powered-by", b"verdaccio/6")])
    body = b'{"name":"pkg","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"dist":{"tarball":"https://registry.npmjs.org/pkg/-/pkg-1.0.0.tgz"}}}}' * 8
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["upstream:http://127.0.0.1:3128"])
        flows = [
            tflow.tflow(req=tutils.treq(headers=request_headers.copy(), scheme=b"https", path=f"/pkg-{i}".encode()), resp=tutils.tresp(headers=response_headers.copy(), content=body))
            for i in range(samples)
        ]
        start = time.process_time()
        for flow in flows:
            addon.requestheaders(flow)
            addon.responseheaders(flow)
            addon.response(flow)
        loop = (time.process_time() - start) / samples * 1e6
    start = time.process_time()
    for facts in handed:
        build_exchange(facts)
    worker = (time.process_time() - start) / len(handed) * 1e6
    return loop, worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packages", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with lab(args.packages) as world:
        home = world.tmp / "home"
        os.environ["NPM_INSPECT_HOME"] = str(home)
        registry = world.verdaccio.url("https")
        npm = NpmEnv(world.tmp / "npm", [f"registry={registry}", f"cafile={world.ca.cert}", f"https-proxy={world.squid.url}"])

        # bare mitmdump, upstream mode, its own CA created up front
        mitm_conf = world.tmp / "mitm"
        mitm_ca = ensure_ca(mitm_conf)
        mitm_bundle = world.tmp / "mitm-bundle.pem"
        mitm_bundle.write_text(world.ca.cert.read_text() + mitm_ca.read_text())
        port = free_port()
        mitmdump = ManagedProcess(
            [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", "127.0.0.1", "-p", str(port),
             "--mode", f"upstream:{world.squid.url}", "--set", f"confdir={mitm_conf}",
             "--set", f"ssl_verify_upstream_trusted_ca={world.ca.cert}"],
            log=world.tmp / "mitmdump.log",
        )
        wait_until(lambda: port_open(port), timeout=30, what="mitmdump")
        mitm_env = npm.env(npm_config_https_proxy=f"http://127.0.0.1:{port}", npm_config_cafile=str(mitm_bundle))

        # npm-inspect's proxy, exactly as `npm-inspect run` sets it up
        store = SessionStore()
        prep = prepare(RunRequest(argv=["npm", "install", world.root_package], cwd=str(npm.project), env=npm.env()))
        inspector = InspectorProxy(prep.proxy_config, store.add).start()
        argv, child_env = child_command(prep, inspector)
        inspector_cmd = ([argv[0]], child_env)

        times: dict[str, list[float]] = {"squid": [], "mitmdump": [], "npm-inspect": [], "npm-inspect run": []}
        try:
            npm_install(npm, world.root_package)  # warm Verdaccio and the OS caches once
            for i in range(args.runs):
                order = ["squid", "mitmdump", "npm-inspect", "npm-inspect run"]
                order = order[i % 4 :] + order[: i % 4]
                for name in order:
                    if name == "squid":
                        times[name].append(npm_install(npm, world.root_package))
                    elif name == "mitmdump":
                        times[name].append(npm_install(npm, world.root_package, (["npm"], mitm_env)))
                    elif name == "npm-inspect":
                        times[name].append(npm_install(npm, world.root_package, inspector_cmd))
                    else:
                        run_argv = [sys.executable, "-m", "inspector", "run", "--report-file", os.devnull, "--", "npm"]
                        times[name].append(npm_install(npm, world.root_package, (run_argv, npm.env(NPM_INSPECT_HOME=str(home)))))
        finally:
            inspector.stop()
            mitmdump.stop()

    captured = len([e for e in store.exchanges() if e.kind == "http"])
    print(f"npm install of {world.package_count} packages over HTTPS, fresh cache, median of {args.runs} runs:")
    for name, values in times.items():
        print(f"  {name:<16} {median(values):6.2f} s   ({', '.join(f'{v:.2f}' for v in values)})")
    ratio = median(times["npm-inspect"]) / median(times["mitmdump"])
    print(f"ratio npm-inspect / bare mitmdump : {ratio:.3f}  (target ≤ 1.05)")
    print(f"ratio npm-inspect / Squid alone   : {median(times['npm-inspect']) / median(times['squid']):.3f}")
    print(f"ratio bare mitmdump / Squid alone : {median(times['mitmdump']) / median(times['squid']):.3f}")
    startup = median(times["npm-inspect run"]) - median(times["npm-inspect"])
    print(f"npm-inspect run start-up and report, once per run: {startup:+.2f} s")
    print(f"exchanges captured by npm-inspect's proxy: {captured} HTTP requests")
    loop, worker = capture_cost_us()
    per_install = captured / (args.runs + 1) / 1e3
    print(f"capture CPU per exchange: {loop:.0f} µs on the proxy's loop, {worker:.0f} µs building the record on its own thread"
          f" (≈ {loop * per_install:.0f} + {worker * per_install:.0f} ms per install)")
    print(f"load average after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

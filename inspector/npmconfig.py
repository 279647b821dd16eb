"""The user's effective npm configuration, and which layer set each key that matters.

npm decides per key from layers, highest first: command line, environment
(``npm_config_*``), project ``.npmrc``, user ``.npmrc``, global ``npmrc``,
npm's builtin ``npmrc``, defaults. We ask npm itself where those files are
(``npm config list``) and what the effective values are (``npm config list
-l --json``), and read the files ourselves to know which layer won — npm's own
listing hides ``proxy`` and tokens.

Two views come out of it:

- :class:`RawNpmConfig` keeps raw values (the runner needs npm's proxy
  credentials and CA files). It is never serialised or shown.
- :class:`NpmConfigSnapshot` is what diagnosis, reports and journals see:
  secrets only as *set / for which host / fingerprint*, URLs with passwords masked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import redact
from .errors import NpmConfigError, NpmNotFoundError

LAYERS = ("cli", "env", "project", "user", "global", "builtin", "default")
DEFAULT_REGISTRY = "https://registry.npmjs.org/"

KEYS_THAT_MATTER = (
    "registry",
    "proxy",
    "https-proxy",
    "noproxy",
    "cafile",
    "ca",
    "strict-ssl",
    "always-auth",
    "_auth",
    "_authToken",
    "username",
    "_password",
    "certfile",
    "keyfile",
)
AUTH_FIELDS = ("_authToken", "_auth", "_password", "username", "certfile", "keyfile", "email")
SECRET_FIELDS = frozenset({"_authToken", "_auth", "_password"})
ENV_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
ENV_TLS_VARS = ("NODE_TLS_REJECT_UNAUTHORIZED", "NODE_EXTRA_CA_CERTS")

_ENV_REF = re.compile(r"(\\*)\$\{([^${}?]+)(\?)?\}")


# -- reading .npmrc files ----------------------------------------------------------------


def parse_npmrc(text: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Parse ``.npmrc`` text the way npm's ini reader does (enough for the keys we need).

    ``key=value`` lines, ``;``/``#`` comments, quoted values, ``key[]=`` arrays,
    ``[section]`` prefixes and ``${VAR}`` expansion from ``env``.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    section = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip() if sep else "true"
        if not key:
            continue
        value = _unquote(value)
        key = _expand(_unquote(key), env)
        value = _expand(value, env)
        if section:
            key = f"{section}.{key}"
        if key.endswith("[]"):
            values.setdefault(key[:-2], [])
            if isinstance(values[key[:-2]], list):
                values[key[:-2]].append(value)
        else:
            values[key] = value
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        if value[0] == '"':
            try:
                decoded = json.loads(value)
                return decoded if isinstance(decoded, str) else value[1:-1]
            except ValueError:
                return value[1:-1]
        return value[1:-1]
    return value


def _expand(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        escapes, name, optional = match.group(1), match.group(2), match.group(3)
        if len(escapes) % 2:
            return escapes[:-1] + match.group(0)[len(escapes) :]
        if name in env:
            return escapes + env[name]
        return escapes + ("" if optional else match.group(0)[len(escapes) :])

    return _ENV_REF.sub(replace, value)


def env_layer(env: dict[str, str]) -> dict[str, Any]:
    """``npm_config_foo_bar=x`` → ``{"foo-bar": "x"}``, as npm reads it (a leading ``_`` stays, empty values are skipped)."""
    values: dict[str, Any] = {}
    for name, value in env.items():
        if not name.lower().startswith("npm_config_") or value == "":
            continue
        key = name[len("npm_config_") :]
        if not key.startswith("//"):
            key = (key[:1] + key[1:].replace("_", "-")).lower()
        values[key] = value
    return values


def cli_layer(args: list[str]) -> dict[str, Any]:
    """Config flags in npm's argv: ``--key=value``, ``--key value`` for the keys we track, ``--no-key``."""
    values: dict[str, Any] = {}
    takes_value = {k for k in KEYS_THAT_MATTER if k not in ("strict-ssl", "always-auth")} | {"userconfig", "globalconfig"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("--") and len(arg) > 2:
            body = arg[2:]
            if "=" in body:
                key, value = body.split("=", 1)
                values[key] = value
            elif body.startswith("no-"):
                values[body[3:]] = "false"
            elif (body in takes_value or body.endswith(":registry")) and i + 1 < len(args):
                values[body] = args[i + 1]
                i += 1
            else:
                values[body] = "true"
        i += 1
    return values


_NOT_FOR_CONFIG_LIST = frozenset({"-h", "--help", "-?", "--usage", "-v", "--version", "-l", "--long", "--json", "-j"})


def config_flags(args: list[str]) -> list[str]:
    """npm's own arguments, for ``npm config list``, so npm parses them exactly as it will for the real command.

    ``--cache DIR`` must stay a flag with a value (read as ``--cache=true``, npm would then write logs to
    ``./true/``); only npm knows which flags take values. Positional words are harmless to ``config list``;
    flags that would make it print something else (help, version, long or JSON output) are left out.
    """
    out: list[str] = []
    for arg in args:
        if arg == "--":
            break
        if arg.split("=", 1)[0] in _NOT_FOR_CONFIG_LIST:
            continue
        out.append(arg)
    return out


# -- the raw, layered configuration --------------------------------------------------------


@dataclass
class RawLayer:
    name: str
    path: str | None
    values: dict[str, Any]


@dataclass
class RawNpmConfig:
    """npm's layers with raw values. Holds secrets: never serialise, log or show it."""

    layers: list[RawLayer]
    effective: dict[str, Any]
    """npm's own ``config list -l --json`` (no secrets, no ``proxy``)."""
    npm_version: str | None = None
    node_version: str | None = None
    cwd: str = ""
    local_prefix: str | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def lookup(self, key: str) -> tuple[Any, RawLayer | None]:
        """The winning value of ``key`` and its layer (``None``: npm's default)."""
        for layer in self.layers:
            if key in layer.values:
                return layer.values[key], layer
        return self.effective.get(key), None

    def get(self, key: str) -> Any:
        return self.lookup(key)[0]

    @property
    def registry(self) -> str:
        value = self.get("registry") or DEFAULT_REGISTRY
        return value if str(value).endswith("/") else f"{value}/"

    @property
    def proxy(self) -> str | None:
        return _text(self.get("proxy"))

    @property
    def https_proxy(self) -> str | None:
        return _text(self.get("https-proxy"))

    @property
    def strict_ssl(self) -> bool:
        value = self.get("strict-ssl")
        return str(value).lower() not in ("false", "0", "") if value is not None else True

    def ca_pems(self) -> str | None:
        """The CA certificates npm trusts instead of Node's roots (``ca`` or ``cafile``), or ``None``."""
        ca = self.get("ca")
        if ca:
            items = ca if isinstance(ca, list) else [ca]
            return "\n".join(str(item).replace("\\n", "\n") for item in items if item)
        cafile = _text(self.get("cafile"))
        if cafile:
            try:
                return Path(cafile).expanduser().read_text()
            except OSError as e:
                raise NpmConfigError(
                    f"npm's cafile {cafile} cannot be read ({e.strerror}): fix or remove it with 'npm config delete cafile'"
                ) from None
            except ValueError:  # UnicodeDecodeError: a DER or other binary file
                raise NpmConfigError(
                    f"npm's cafile {cafile} is not a PEM text file (binary, perhaps DER): convert it with "
                    f"'openssl x509 -inform der -in {cafile} -out ca.pem' and point cafile at the .pem"
                ) from None
        return None

    def secrets(self) -> list[str]:
        """Every secret value in npm's config (tokens, passwords, proxy URL passwords), raw and decoded.

        Only for the leak check of outputs: the vault holds them in memory, nothing shows or saves them.
        """
        found: list[str] = []
        for layer in self.layers:
            for key, value in layer.values.items():
                if not isinstance(value, str) or not value:
                    continue
                field_name = key.rpartition(":")[2]
                if field_name in SECRET_FIELDS:
                    found.append(value)
                    found.extend(_decoded_secret(field_name, value))
                elif "://" in value:
                    found.extend(_url_secrets(value))
        for name in ENV_PROXY_VARS:
            if self.env.get(name):
                found.extend(_url_secrets(self.env[name]))
        return [s for s in found if s]

    def env_proxy(self, scheme: str = "https") -> str | None:
        names = ("HTTPS_PROXY", "https_proxy") if scheme == "https" else ("HTTP_PROXY", "http_proxy")
        for name in names:
            if self.env.get(name):
                return self.env[name]
        return None

    def snapshot(self) -> "NpmConfigSnapshot":
        return build_snapshot(self)


def _decoded_secret(field_name: str, value: str) -> list[str]:
    """``_auth`` is base64 of ``user:password`` and ``_password`` base64 of the password: their plain forms too."""
    import base64
    import binascii

    try:
        plain = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return []
    if field_name == "_auth":
        return [plain.partition(":")[2]] if ":" in plain else []
    return [plain]


def _url_secrets(url: str) -> list[str]:
    """The password of a URL's userinfo, as written and percent-decoded."""
    from urllib.parse import unquote

    try:
        netloc = urlsplit(url).netloc if "://" in url else ""
    except ValueError:
        return []
    userinfo = netloc.rpartition("@")[0]
    _, sep, password = userinfo.partition(":")
    return [password, unquote(password)] if sep and password else []


def _text(value: Any) -> str | None:
    if value is None or value is False or value == "" or value == "null":
        return None
    return str(value)


def _run(npm: str, args: list[str], cwd: str, env: dict[str, str]) -> str:
    try:
        result = subprocess.run([npm, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise NpmNotFoundError(f"cannot run npm ({e.strerror}): install Node.js and npm, or put npm on PATH") from None
    except subprocess.TimeoutExpired:
        raise NpmConfigError("'npm config list' did not answer within 60 s: check your .npmrc files") from None
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise NpmConfigError(f"'npm {' '.join(args)}' failed: {first}")
    return result.stdout


_LAYER_LINE = re.compile(r'^; "(\w+)" config from (.+)$')
_INFO_LINE = re.compile(r"^; (node version|npm version|npm local prefix|cwd) = (.+)$")


def read_npm_config(
    npm: str = "npm",
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    npm_args: list[str] | None = None,
) -> RawNpmConfig:
    """Ask npm for its layers and effective values, then read the layer files ourselves."""
    import shutil

    env = dict(os.environ if env is None else env)
    cwd = cwd or os.getcwd()
    if shutil.which(npm, path=env.get("PATH")) is None and not Path(npm).exists():
        raise NpmNotFoundError("npm is not on PATH: install Node.js and npm, or add npm's directory to PATH")
    cli = cli_layer(npm_args or [])
    flags = config_flags(npm_args or [])
    with ThreadPoolExecutor(2) as pool:
        listing_job = pool.submit(_run, npm, ["config", "list", *flags], cwd, env)
        json_job = pool.submit(_run, npm, ["config", "list", "-l", "--json", *flags], cwd, env)
        listing, effective_text = listing_job.result(), json_job.result()
    try:
        effective = json.loads(effective_text)
    except ValueError:
        raise NpmConfigError("'npm config list --json' printed something that is not JSON: check your npm installation") from None

    paths: dict[str, str] = {}
    info: dict[str, str] = {}
    for line in listing.splitlines():
        if m := _LAYER_LINE.match(line):
            paths[m.group(1)] = m.group(2).strip()
        elif m := _INFO_LINE.match(line):
            info[m.group(1)] = m.group(2).strip()
    local_prefix = info.get("npm local prefix")
    paths.setdefault("user", str(effective.get("userconfig") or Path.home() / ".npmrc"))
    paths.setdefault("global", str(effective.get("globalconfig") or ""))
    if local_prefix:
        paths.setdefault("project", str(Path(local_prefix) / ".npmrc"))

    layers = [RawLayer("cli", None, cli), RawLayer("env", None, env_layer(env))]
    for name in ("project", "user", "global", "builtin"):
        path = paths.get(name)
        values: dict[str, Any] = {}
        if path and path not in ("command line options", "environment"):
            try:
                values = parse_npmrc(Path(path).read_text(errors="replace"), env)
            except OSError:
                values = {}
        layers.append(RawLayer(name, path, values))
    return RawNpmConfig(
        layers=layers,
        effective=effective,
        npm_version=info.get("npm version") or effective.get("npm-version"),
        node_version=info.get("node version"),
        cwd=info.get("cwd", cwd),
        local_prefix=local_prefix,
        env=env,
    )


# -- the redacted snapshot ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigValue:
    """One key's winning value, where it came from, and lower layers it overrides."""

    key: str
    value: str | None
    """Display value: URLs with passwords masked; ``None`` for secrets."""
    layer: str
    source: str | None = None
    secret: bool = False
    fingerprint: str | None = None
    overrides: tuple[tuple[str, str | None], ...] = ()
    """(layer, display value) of lower layers that also set this key."""


@dataclass(frozen=True)
class AuthEntry:
    """A credential configured for a registry prefix (``//host[:port]/path/:_authToken``)."""

    nerf: str
    """``//host[:port]/path/`` — npm's "nerf dart", the registry URL without scheme."""
    field: str
    layer: str
    source: str | None = None
    fingerprint: str | None = None
    """For secrets; ``username`` and ``email`` are shown as values."""
    value: str | None = None

    @property
    def host(self) -> str:
        return self.nerf[2:].split("/", 1)[0]


@dataclass(frozen=True)
class NpmConfigSnapshot:
    """The npm configuration diagnosis reasons about. Safe to show, save and send."""

    values: dict[str, ConfigValue] = field(default_factory=dict)
    auth: tuple[AuthEntry, ...] = ()
    env_proxy: dict[str, str] = field(default_factory=dict)
    """``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment, passwords masked."""
    env_tls: dict[str, str] = field(default_factory=dict)
    """``NODE_TLS_REJECT_UNAUTHORIZED``/``NODE_EXTRA_CA_CERTS`` from the environment (they change what node trusts)."""
    files: dict[str, str] = field(default_factory=dict)
    """layer → file path (project, user, global, builtin)."""
    npm_version: str | None = None
    node_version: str | None = None
    cwd: str | None = None

    def get(self, key: str) -> str | None:
        value = self.values.get(key)
        return value.value if value else None

    def layer_of(self, key: str) -> str | None:
        value = self.values.get(key)
        return value.layer if value else None

    @property
    def registry(self) -> str:
        return self.get("registry") or DEFAULT_REGISTRY

    def scope_registries(self) -> dict[str, str]:
        return {k.split(":", 1)[0]: v.value or "" for k, v in self.values.items() if k.startswith("@") and k.endswith(":registry")}

    def registry_for(self, package: str) -> str:
        if package.startswith("@") and "/" in package:
            scope = package.split("/", 1)[0]
            mapped = self.scope_registries().get(scope)
            if mapped:
                return mapped
        return self.registry

    def auth_for(self, url: str) -> list[AuthEntry]:
        """The credentials npm would send to ``url``: longest configured prefix, walking up the path."""
        nerf = nerf_dart(url)
        while nerf.count("/") >= 3:
            found = [a for a in self.auth if a.nerf == nerf]
            if found:
                return found
            nerf = nerf[: nerf.rstrip("/").rfind("/") + 1]
        return []

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NpmConfigSnapshot":
        values = {}
        for key, item in (data.get("values") or {}).items():
            item = dict(item)
            item["overrides"] = tuple(tuple(x) for x in item.get("overrides") or ())
            values[key] = ConfigValue(**{k: v for k, v in item.items() if k in ConfigValue.__dataclass_fields__})
        auth = tuple(
            AuthEntry(**{k: v for k, v in a.items() if k in AuthEntry.__dataclass_fields__}) for a in data.get("auth") or ()
        )
        return cls(
            values=values,
            auth=auth,
            env_proxy=dict(data.get("env_proxy") or {}),
            env_tls=dict(data.get("env_tls") or {}),
            files=dict(data.get("files") or {}),
            npm_version=data.get("npm_version"),
            node_version=data.get("node_version"),
            cwd=data.get("cwd"),
        )


@lru_cache(maxsize=8192)
def nerf_dart(url: str) -> str:
    """``https://host:443/path/x`` → ``//host:443/path/`` (npm drops the scheme, keeps the directory)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if not path.endswith("/"):
        path = path[: path.rfind("/") + 1]
    return f"//{parts.netloc.rpartition('@')[2]}{path}"


def _display(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(_display(key, v)) for v in value)
    text = str(value)
    if key in ("proxy", "https-proxy") or "://" in text:
        return redact.redact_url(text)
    if key == "ca":
        return f"({len(text)} characters of PEM)"
    return redact.redact_text(text)


def build_snapshot(raw: RawNpmConfig) -> NpmConfigSnapshot:
    """Redact a raw configuration into a snapshot."""
    keys: set[str] = set(KEYS_THAT_MATTER)
    auth_keys: set[str] = set()
    for layer in raw.layers:
        for key in layer.values:
            if key.startswith("@") and key.endswith(":registry"):
                keys.add(key)
            elif key.startswith("//") and ":" in key:
                auth_keys.add(key)

    values: dict[str, ConfigValue] = {}
    for key in sorted(keys):
        setters = [(layer, layer.values[key]) for layer in raw.layers if key in layer.values]
        secret = key in SECRET_FIELDS
        if setters:
            layer, value = setters[0]
            values[key] = ConfigValue(
                key=key,
                value=None if secret else _display(key, value),
                layer=layer.name,
                source=layer.path,
                secret=secret,
                fingerprint=redact.fingerprint(str(value)) if secret else None,
                overrides=tuple((lower.name, None if secret else _display(key, v)) for lower, v in setters[1:]),
            )
        elif key in raw.effective and raw.effective[key] not in (None, "", [""]) and not secret:
            values[key] = ConfigValue(key=key, value=_display(key, raw.effective[key]), layer="default")
    values.setdefault("registry", ConfigValue(key="registry", value=DEFAULT_REGISTRY, layer="default"))

    auth: list[AuthEntry] = []
    seen: set[str] = set()
    for layer in raw.layers:
        for key in sorted(k for k in layer.values if k in auth_keys):
            if key in seen:
                continue  # a higher layer already set it
            seen.add(key)
            nerf, _, fieldname = key.rpartition(":")
            value = str(layer.values[key])
            secret = fieldname in SECRET_FIELDS
            auth.append(
                AuthEntry(
                    nerf=nerf if nerf.endswith("/") else nerf + "/",
                    field=fieldname,
                    layer=layer.name,
                    source=layer.path,
                    fingerprint=redact.fingerprint(value) if secret else None,
                    value=None if secret else redact.redact_text(value),
                )
            )
    env_proxy = {name: redact.redact_url(raw.env[name]) for name in ENV_PROXY_VARS if raw.env.get(name)}
    env_tls = {name: redact.redact_text(raw.env[name]) for name in ENV_TLS_VARS if raw.env.get(name)}
    files = {layer.name: layer.path for layer in raw.layers if layer.path}
    return NpmConfigSnapshot(
        values=values,
        auth=tuple(auth),
        env_proxy=env_proxy,
        env_tls=env_tls,
        files=files,
        npm_version=raw.npm_version,
        node_version=raw.node_version,
        cwd=raw.cwd,
    )

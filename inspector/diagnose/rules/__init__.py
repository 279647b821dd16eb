"""Every rule, in no particular order: the engine ranks their findings.

A rule is ``rule(exchanges, config, context) -> list[Finding]``: the run's
exchanges (latest record per id, in order), npm's config snapshot, and the
:class:`~inspector.diagnose.context.RunContext` (npm's own words, the
upstream's source). ``npm-error`` is not in :data:`RULES`: the engine adds it
when npm failed and no rule found an error.
"""

from __future__ import annotations

from collections.abc import Callable

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange
from ..context import RunContext
from ..findings import Finding
from .gates import package_quarantined
from .npm import npm_config_invalid, npm_policy
from .packages import lockfile_registry_mismatch, package_not_found, version_not_found
from .proxy import noproxy_internal_registry, proxy_auth, proxy_connect_denied, proxy_missing_https, proxy_unreachable
from .proxy_protocol import proxy_interstitial, proxy_scheme_mismatch
from .registry import registry_auth, registry_forbidden, scope_registry_missing, token_host_mismatch
from .security import insecure_tls_config
from .timing import slow_hop, unanswered_connect
from .tls import tls_untrusted

Rule = Callable[[list[Exchange], NpmConfigSnapshot, RunContext], list[Finding]]

RULES: tuple[Rule, ...] = (
    proxy_auth,
    proxy_connect_denied,
    proxy_unreachable,
    proxy_missing_https,
    proxy_interstitial,
    proxy_scheme_mismatch,
    noproxy_internal_registry,
    registry_auth,
    registry_forbidden,
    scope_registry_missing,
    token_host_mismatch,
    package_not_found,
    version_not_found,
    lockfile_registry_mismatch,
    npm_config_invalid,
    npm_policy,
    package_quarantined,
    tls_untrusted,
    insecure_tls_config,
    slow_hop,
    unanswered_connect,
)

RULE_IDS = (
    "proxy-connect-denied",
    "proxy-auth-required",
    "proxy-auth-rejected",
    "proxy-auth-unsupported-scheme",
    "proxy-missing-https",
    "proxy-unreachable",
    "proxy-interstitial",
    "proxy-scheme-mismatch",
    "registry-auth-missing",
    "registry-auth-rejected",
    "registry-forbidden",
    "scope-registry-missing",
    "token-host-mismatch",
    "package-not-found",
    "version-not-found",
    "lockfile-registry-mismatch",
    "npm-config-invalid",
    "npm-policy",
    "package-quarantined",
    "tls-untrusted",
    "insecure-tls-config",
    "noproxy-internal-registry",
    "slow-hop",
    "npm-error",
)

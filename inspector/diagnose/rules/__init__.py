"""Every rule, in no particular order: the engine ranks their findings."""

from __future__ import annotations

from collections.abc import Callable

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange
from ..findings import Finding
from .proxy import noproxy_internal_registry, proxy_auth, proxy_connect_denied, proxy_missing_https, proxy_unreachable
from .registry import registry_auth, registry_forbidden, scope_registry_missing, token_host_mismatch
from .timing import slow_hop
from .tls import tls_untrusted

Rule = Callable[[list[Exchange], NpmConfigSnapshot], list[Finding]]

RULES: tuple[Rule, ...] = (
    proxy_auth,
    proxy_connect_denied,
    proxy_unreachable,
    proxy_missing_https,
    noproxy_internal_registry,
    registry_auth,
    registry_forbidden,
    scope_registry_missing,
    token_host_mismatch,
    tls_untrusted,
    slow_hop,
)

RULE_IDS = (
    "proxy-connect-denied",
    "proxy-auth-required",
    "proxy-auth-rejected",
    "proxy-auth-unsupported-scheme",
    "proxy-missing-https",
    "proxy-unreachable",
    "registry-auth-missing",
    "registry-auth-rejected",
    "registry-forbidden",
    "scope-registry-missing",
    "token-host-mismatch",
    "tls-untrusted",
    "noproxy-internal-registry",
    "slow-hop",
)

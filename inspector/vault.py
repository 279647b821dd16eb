"""Secrets seen in this process — kept only in its memory — for the reveal key and the leak check.

Records, journals, reports and HAR files only ever hold fingerprints. When
the user asks (and confirms) to see a secret in the dashboard, the fingerprint
is looked up here. Before any output is written, :meth:`SecretVault.find_leak`
scans it for every secret the session has seen (header values, the run's and
the upstream's proxy passwords, npm's tokens, secrets on npm's command line):
a hit means a redaction bug, and the output is refused. Nothing in this module
is ever written anywhere.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from urllib.parse import quote

from .redact import auth_secret, fingerprint, is_secret_header

MIN_CHECKED_LENGTH = 6
"""Shorter secrets are not searched for in outputs: they would match ordinary text."""
MAX_SECRET_LENGTH = 8192
"""Longer "secrets" (hostile megabyte headers) are not kept: they could not be revealed usefully anyway."""


def variants(secret: str) -> set[str]:
    """The forms a secret could take in an output: as is, JSON-escaped, percent-encoded, base64."""
    forms = {secret, json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe="")}
    try:
        forms.add(base64.b64encode(secret.encode("utf-8")).decode("ascii").rstrip("="))
    except UnicodeEncodeError:
        pass
    return {f for f in forms if len(f) >= MIN_CHECKED_LENGTH}


class SecretVault:
    def __init__(self, limit: int = 1024) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()
        self._needles: dict[str, str] | None = None

    def remember(self, secret: str) -> None:
        if not secret or len(secret) > MAX_SECRET_LENGTH:
            return
        fp = fingerprint(secret)
        with self._lock:
            if fp not in self._items:
                self._needles = None
            self._items[fp] = secret
            self._items.move_to_end(fp)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
                self._needles = None

    def remember_headers(self, headers) -> None:
        """Remember the secret part of every secret header (the part :func:`redact.mask` replaces)."""
        for name, value in headers:
            if is_secret_header(name):
                secret = auth_secret(value)
                self.remember(secret if secret != value or " " in value.strip() else value)
                self.remember(value)

    def get(self, fp: str) -> str | None:
        with self._lock:
            return self._items.get(fp)

    def find_leak(self, text: str) -> str | None:
        """The fingerprint of a secret that appears in ``text`` (in any of its :func:`variants`), or ``None``."""
        with self._lock:
            if self._needles is None:
                self._needles = {form: fp for fp, secret in self._items.items() for form in variants(secret)}
            needles = self._needles
        for form, fp in needles.items():
            if form in text:
                return fp
        return None

    def longest_form(self) -> int:
        """The length of the longest form :meth:`find_leak` searches for (0 when the vault is empty)."""
        with self._lock:
            if self._needles is None:
                self._needles = {form: fp for fp, secret in self._items.items() for form in variants(secret)}
            return max(map(len, self._needles), default=0)

    def scrub(self, text: str) -> str:
        """``text`` with every form of every known secret replaced by its mask (longest forms first)."""
        with self._lock:
            pairs = sorted(((form, fp) for fp, secret in self._items.items() for form in variants(secret)), key=lambda p: -len(p[0]))
        for form, fp in pairs:
            text = text.replace(form, f"[redacted:{fp}]")
        return text

    def __len__(self) -> int:
        return len(self._items)

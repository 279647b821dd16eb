"""Secrets seen in live traffic, kept only in this process's memory, for the dashboard's reveal key.

Records, journals, reports and HAR files only ever hold fingerprints. When
the user asks (and confirms) to see a secret in the dashboard, the fingerprint
is looked up here. Nothing in this module is ever written anywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .redact import SECRET_HEADERS, auth_secret, fingerprint


class SecretVault:
    def __init__(self, limit: int = 256) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def remember(self, secret: str) -> None:
        if not secret:
            return
        fp = fingerprint(secret)
        with self._lock:
            self._items[fp] = secret
            self._items.move_to_end(fp)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def remember_headers(self, headers) -> None:
        """Remember the secret part of every secret header (the part :func:`redact.mask` replaces)."""
        for name, value in headers:
            if name.lower() in SECRET_HEADERS:
                secret = auth_secret(value)
                self.remember(secret if secret != value or " " in value.strip() else value)
                self.remember(value)

    def get(self, fp: str) -> str | None:
        with self._lock:
            return self._items.get(fp)

    def __len__(self) -> int:
        return len(self._items)

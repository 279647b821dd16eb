"""Read a big JSON document member by member, without holding it whole: the HAR reader's ``log.entries``.

A HAR of 100,000 exchanges is ~300 MB of JSON; ``json.load`` would hold the
text and every entry's dicts at once (gigabytes). :class:`JsonStream` walks
the document's outer objects itself and hands each inner value to the
stdlib's C decoder (``json.JSONDecoder.raw_decode``) over a buffer that only
ever holds the value being read, so memory stays flat in the number of
entries. Stdlib only: a dependency (ijson) would buy little for one array.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

_WS = re.compile(r"[ \t\n\r]*")
_DELIMITERS = frozenset(" \t\n\r,]}:")
"""What may follow a number or literal; anything else (or nothing yet) means it may have been cut."""
CHUNK = 1 << 20
"""Characters read at a time (the buffer grows past it only for a value bigger than that)."""


class JsonStream:
    """A cursor over JSON text read from ``source`` in chunks; raises ``ValueError`` on invalid JSON."""

    def __init__(self, source: IO[str], chunk: int = CHUNK) -> None:
        self._source = source
        self._chunk = chunk
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def _more(self) -> bool:
        """Read on (at least as much as is buffered, so one huge value costs O(n), not O(n²))."""
        if self._eof:
            return False
        text = self._source.read(max(self._chunk, len(self._buf) - self._pos))
        if not text:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the text), not consumed."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def take(self, expected: str) -> None:
        """Consume one structural character (``{ } [ ] : ,``)."""
        found = self.peek()
        if found != expected:
            raise ValueError(f"expected {expected!r} but found {found or 'the end of the file'!r} near character {self._offset()}")
        self._pos += 1

    def value(self) -> Any:
        """Decode the next whole value (an entry, a string, a number…)."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as e:
                if self._more():
                    continue
                raise ValueError(f"{e.msg} near character {self._offset() + (e.pos - self._pos)}") from None
            if not isinstance(value, (dict, list, str)) and not self._eof:
                after = self._buf[end : end + 1]
                if after not in _DELIMITERS and self._more():
                    continue  # a number cut by the buffer's end ("-0" of "-0.5e3"): read on and decode it again
            self._pos = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; after each, the caller reads (or skips) its value."""
        self.take("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ValueError(f"an object key must be a string near character {self._offset()}")
            self.take(":")
            yield key
            if self.peek() == ",":
                self._pos += 1
                continue
            self.take("}")
            return

    def items(self) -> Iterator[Any]:
        """The values of the array that starts here, one by one."""
        self.take("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            if self.peek() == ",":
                self._pos += 1
                continue
            self.take("]")
            return

    def end(self) -> None:
        """Only blanks may follow the document."""
        if self.peek():
            raise ValueError(f"extra data after the document near character {self._offset()}")

    def _offset(self) -> int:
        return self._pos

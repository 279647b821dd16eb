"""A raw HTTP origin for fault, load and hostile-input tests: ``python -m tests.lab.origin PORT``.

Paths choose the behaviour: ``/ok`` (small 200, keep-alive), ``/big/N`` (N bytes streamed),
``/slow/N`` (N bytes, slowly), ``/reset`` (connection dropped before answering), ``/500``,
``/502``, ``/bad-status``, ``/huge-headers``, ``/bad-chunked``, ``/non-utf8``, ``/gzip-bomb``
(a 401 whose JSON error body inflates to 100 MB). Counts every request it answers in
``/-/count``.
"""

from __future__ import annotations

import asyncio
import gzip
import sys

COUNT = 0
CHUNK = b"x" * 65536
_BOMB = gzip.compress(b'{"error":"' + b"A" * 100_000_000 + b'"}', compresslevel=9)


async def _reply(writer: asyncio.StreamWriter, status: str, body: bytes, headers: list[tuple[str, str]] = ()) -> None:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global COUNT
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            path = parts[1] if len(parts) > 1 else "/"
            if "://" in path:
                path = "/" + path.split("://", 1)[1].split("/", 1)[1]
            if path == "/-/count":
                await _reply(writer, "200 OK", str(COUNT).encode())
                continue
            COUNT += 1
            if path.startswith("/big/") or path.startswith("/slow/"):
                size = int(path.rsplit("/", 1)[1])
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
                sent = 0
                while sent < size:
                    piece = CHUNK[: min(len(CHUNK), size - sent)]
                    writer.write(piece)
                    sent += len(piece)
                    await writer.drain()
                    if path.startswith("/slow/"):
                        await asyncio.sleep(0.05)
            elif path == "/reset":
                writer.transport.abort()
                return
            elif path == "/500":
                await _reply(writer, "500 Internal Server Error", b'{"error":"internal"}')
            elif path == "/502":
                await _reply(writer, "502 Bad Gateway", b'{"error":"bad gateway"}')
            elif path == "/bad-status":
                writer.write(b"HTTP/1.1 WHAT\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            elif path == "/huge-headers":
                writer.write(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * 300_000 + b"\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
            elif path == "/bad-chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nnot hex\r\n")
                await writer.drain()
                writer.close()
                return
            elif path == "/non-utf8":
                await _reply(writer, "200 OK", b"\xff\xfe\xfa body \x80", [("X-Name", "caf\xe9 \udcff".encode("latin-1", "replace").decode("latin-1"))])
            elif path == "/gzip-bomb":
                await _reply(writer, "401 Unauthorized", _BOMB, [("Content-Encoding", "gzip"), ("WWW-Authenticate", "Bearer")])
            else:
                await _reply(writer, "200 OK", b'{"ok":true}')
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, limit=2**20)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

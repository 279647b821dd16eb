"""A slow corporate proxy: ``python -m tests.lab.slowproxy PORT PARENT_PORT DELAY``.

It accepts the TCP connection at once, then takes ``DELAY`` seconds before it
passes the first CONNECT for a target on to its parent (the lab's Squid, which
alone resolves the lab's registry name) and relays the parent's answer and the
tunnel both ways — as a proxy behaves whose DNS is slow: later CONNECTs to the
same target are quick (the name is cached). Squid itself cannot be made slow
without a slow DNS server on port 53, which other users of this machine share.
Plain-HTTP requests are passed on the same way.
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


RESOLVED: dict[bytes, asyncio.Event] = {}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parent: int, delay: float) -> None:
    upstream_writer = None
    try:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        target = head.split(b"\r\n", 1)[0].split(b" ")[1] if b" " in head else b""
        resolved = RESOLVED.get(target)
        if resolved is None:  # the first ask for this name: "resolve" it slowly
            resolved = RESOLVED[target] = asyncio.Event()
            await asyncio.sleep(delay)
            resolved.set()
        else:
            await resolved.wait()
        up_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", parent)
        upstream_writer.write(head)
        await upstream_writer.drain()
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(up_reader, writer))
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        if upstream_writer is not None:
            upstream_writer.close()


async def main(port: int, parent: int, delay: float) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, parent, delay), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))

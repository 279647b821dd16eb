"""A load client: N requests over C concurrent keep-alive connections through an HTTP proxy.

``python -m tests.lab.load PROXY_PORT ORIGIN_PORT TOTAL CONCURRENCY`` prints a JSON line:
``{"ok": …, "failed": …, "seconds": …}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def worker(proxy_port: int, origin_port: int, count: int, results: list[int]) -> None:
    ok = failed = 0
    reader = writer = None
    for i in range(count):
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
            writer.write(
                f"GET http://127.0.0.1:{origin_port}/ok?i={i} HTTP/1.1\r\nHost: 127.0.0.1:{origin_port}\r\n\r\n".encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            ok += head.startswith(b"HTTP/1.1 200")
            failed += not head.startswith(b"HTTP/1.1 200")
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            failed += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()
    results.extend([ok, failed])


async def main(proxy_port: int, origin_port: int, total: int, concurrency: int) -> None:
    per = total // concurrency
    results: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(worker(proxy_port, origin_port, per, results) for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    print(json.dumps({"ok": sum(results[0::2]), "failed": sum(results[1::2]), "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    asyncio.run(main(*(int(a) for a in sys.argv[1:5])))

# Copyright (c) nodesec.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A TCP proxy on 127.0.0.1 that adds a fixed network round-trip time, for benchmarks.

The kernel here has no ``netem`` qdisc, so a Kubernetes API "at network distance" is emulated
in user space: every chunk read from one side is written to the other side ``rtt/2`` later,
in order, without limiting bandwidth. TLS passes through untouched (the client still verifies
the API server's certificate: 127.0.0.1 is in its names).

    python bench/latency_proxy.py --listen 127.0.0.1:0 --target 127.0.0.1:16443 --rtt-ms 5

Prints the listening port on stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
from typing import Deque, Tuple


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader to writer, each chunk ``delay`` seconds after it arrived, order kept."""
    loop = asyncio.get_running_loop()
    queue: Deque[Tuple[float, bytes]] = collections.deque()
    wake = asyncio.Event()
    eof = False

    async def send() -> None:
        while True:
            while not queue:
                if eof:
                    return
                wake.clear()
                await wake.wait()
            due, chunk = queue[0]
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            queue.popleft()
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            queue.append((loop.time() + delay, chunk))
            wake.set()
    finally:
        eof = True
        wake.set()
        try:
            await sender
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


async def serve(listen: Tuple[str, int], target: Tuple[str, int], one_way: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(pump(client_r, server_w, one_way), pump(server_r, client_w, one_way))
        except (ConnectionError, OSError):
            pass
        finally:
            for w in (client_w, server_w):
                w.close()

    server = await asyncio.start_server(handle, *listen)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def hostport(text: str) -> Tuple[str, int]:
    host, _sep, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", type=hostport, default=("127.0.0.1", 0))
    ap.add_argument("--target", type=hostport, required=True)
    ap.add_argument("--rtt-ms", type=float, required=True, help="round-trip time to add (each way gets half)")
    args = ap.parse_args()
    try:
        asyncio.run(serve(args.listen, args.target, args.rtt_ms / 2000.0))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

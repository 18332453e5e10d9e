"""The leanest uvloop echo server: `asyncio.start_server` on uvloop's loop, a coroutine per
connection, 16 KiB reads, TCP_NODELAY. No flags of the suite, no work, no counters, no graceful
shutdown: the yardstick python-uvloop is held to, as crates/*/examples/minimal.rs are for the
Rust servers.

`--drain` replaces start_server's accept loop (libuv's: one connection per turn of the loop)
with one that accepts until the kernel's queue is empty, handing each socket to the same
coroutine. It exists to test whether accepting one connection per turn is what leaves clients
unserved at 1000 connections (docs/scale.md).

    .venv/bin/python python/uvloop_minimal.py 127.0.0.1:0 [--backlog N] [--drain]
"""

import argparse
import asyncio
import socket

import uvloop

BUFFER = 16 * 1024
# The suite's servers listen with this backlog (crates/common/src/config.rs: DEFAULT_BACKLOG);
# start_server's own default is 100.
BACKLOG = 4096


async def handle(reader, writer):
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while data := await reader.read(BUFFER):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    writer.close()


async def accepted(sock):
    reader, writer = await asyncio.open_connection(sock=sock)
    await handle(reader, writer)


async def drain_accepts(listener):
    """Whenever the listener is readable, accepts until the kernel's queue is empty."""
    loop = asyncio.get_running_loop()
    tasks = set()

    def on_readable():
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            task = loop.create_task(accepted(sock))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    loop.add_reader(listener, on_readable)
    await asyncio.Event().wait()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addr", nargs="?", default="127.0.0.1:7878")
    parser.add_argument("--backlog", type=int, default=BACKLOG)
    parser.add_argument("--drain", action="store_true")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    if args.drain:
        listener = socket.create_server((host, int(port)), backlog=args.backlog)
        listener.setblocking(False)
        print("listening on {}:{}".format(*listener.getsockname()), flush=True)
        await drain_accepts(listener)
    else:
        server = await asyncio.start_server(handle, host, int(port), backlog=args.backlog)
        print("listening on {}:{}".format(*server.sockets[0].getsockname()), flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())

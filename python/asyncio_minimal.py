"""The leanest asyncio echo server, the yardstick scripts/fidelity.sh holds python-asyncio to.

`asyncio.start_server` on asyncio's own loop, a coroutine per connection, 16 KiB reads,
TCP_NODELAY, backlog 4096. No flags of the suite, no work, no counters, no graceful shutdown: the
leanest form of the idiom, as crates/*/examples/minimal.rs are for the Rust servers.
uvloop_minimal.py runs this same program on uvloop's loop, the yardstick for python-uvloop, as
uvloop_server.py runs asyncio_server.py.

Prints `listening on IP:PORT` first, as the suite's servers do. The address may also be given
alone, without `--addr`.

`--drain` replaces start_server's accept loop with one that accepts until the kernel's queue is
empty, handing each socket to the same coroutine. It exists to test whether uvloop's accept
(libuv's: one connection per turn of the loop) is what leaves clients unserved at 1000
connections (docs/scale.md); asyncio's own loop already accepts up to the backlog at a time.

    .venv/bin/python python/asyncio_minimal.py --addr 127.0.0.1:0 [--backlog N] [--drain]
"""

import argparse
import asyncio
import socket

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


async def serve(args):
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


def main(run=asyncio.run, about=__doc__):
    """Serves on the loop `run` starts (asyncio.run, or uvloop.run from uvloop_minimal.py)."""
    parser = argparse.ArgumentParser(description=about.splitlines()[0])
    parser.add_argument("--addr", default=None, help="IP:PORT (port 0: any free port)")
    parser.add_argument("addr_alone", nargs="?", default=None, metavar="ADDR",
                        help="the same, without --addr")
    parser.add_argument("--backlog", type=int, default=BACKLOG)
    parser.add_argument("--drain", action="store_true")
    args = parser.parse_args()
    args.addr = args.addr or args.addr_alone or "127.0.0.1:7878"
    run(serve(args))


if __name__ == "__main__":
    main()

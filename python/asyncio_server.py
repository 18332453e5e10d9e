"""python-asyncio: a TCP echo server written the way the asyncio explainer writes one.

`asyncio.start_server` runs one coroutine per connection on a single event loop; every `await`
hands the loop to another connection. The work models are the article's own idioms: `await
asyncio.sleep` to wait, `time.sleep` for the gotcha it warns about, `asyncio.to_thread` to move
blocking work off the loop, aiofiles and aiosqlite for files and databases. uvloop_server.py runs
this same program on uvloop's loop.

    .venv/bin/python python/asyncio_server.py --addr 127.0.0.1:0 [--work sleep:1ms] ...
"""

import asyncio
import os
import signal
import sys
import time

import echo_common as common

TARGET = "python-asyncio"
ABOUT = "asyncio.start_server, a coroutine per connection"

# aiosqlite runs each connection on a thread of its own; the server keeps a small pool of them,
# as sized as asyncio's default executor (which `to_thread` and aiofiles use): min(32, CPUs + 4).
SQLITE_POOL = min(32, (os.cpu_count() or 1) + 4)


async def make_work(work, data, at_shutdown):
    """The work as one coroutine function, in asyncio's idiom for each kind (None: no work).
    Appends to `at_shutdown` what must be closed while the loop still runs."""
    seconds = work.seconds
    if work.kind == "none":
        return None
    if work.kind == "sleep":
        async def sleep():
            await asyncio.sleep(seconds)
        return sleep
    if work.kind == "block":
        async def block():
            time.sleep(seconds)  # The article's gotcha: the whole loop sleeps with it.
        return block
    if work.kind == "offload":
        async def offload():
            await asyncio.to_thread(time.sleep, seconds)
        return offload
    if work.kind == "cpu":
        async def cpu():
            common.spin(seconds)
        return cpu
    if work.kind == "file-block":
        async def file_block():
            with open(data.path, "rb") as f:
                data.check(f.read())
        return file_block
    if work.kind == "file-offload":
        aiofiles = common.require("aiofiles")

        async def file_offload():
            async with aiofiles.open(data.path, "rb") as f:
                data.check(await f.read())
        return file_offload
    if work.kind == "sqlite-block":
        async def sqlite_block():
            data.query()
        return sqlite_block
    aiosqlite = common.require("aiosqlite")
    pool = asyncio.Queue()
    for _ in range(SQLITE_POOL):
        db = await aiosqlite.connect(data.uri, uri=True)
        pool.put_nowait(db)
        at_shutdown.append(db.close)

    async def sqlite_offload():
        db = await pool.get()
        try:
            async with db.execute(common.SQLITE_QUERY) as rows:
                data.check(tuple(await rows.fetchone()))
        finally:
            pool.put_nowait(db)
    return sqlite_offload


async def serve(config, target):
    # Set-up: the work's data, the counters, the loop-lag probe, the signals.
    loop = asyncio.get_running_loop()
    data = common.prepare(config.work)
    at_shutdown = []
    work = await make_work(config.work, data, at_shutdown)
    stats = common.Stats(config)
    lag = common.Lag(loop, stats)
    connections = set()
    stop = asyncio.Event()

    def on_signal(signum):
        if stop.is_set():
            common.second_signal(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)

    # One connection: read, do the work its completed messages are due, echo, repeat.
    async def handle(reader, writer):
        peer = writer.get_extra_info("peername")
        if stop.is_set() or not stats.admit(peer):
            writer.close()
            return
        task = asyncio.current_task()
        connections.add(task)
        common.nodelay(writer.get_extra_info("socket"), config)
        framer = common.Framer(config.msg_size, config.work_every)
        echoed, error = 0, None
        try:
            while data := await reader.read(config.buffer):
                if work is not None:
                    for _ in range(framer.received(len(data))):
                        await work()
                writer.write(data)
                await writer.drain()
                echoed += len(data)
            writer.close()
            await writer.wait_closed()
        except asyncio.CancelledError:
            writer.transport.abort()  # Shutdown: close now, even with bytes unsent.
        except OSError as e:
            error = e
            writer.transport.abort()
        finally:
            connections.discard(task)
            stats.close(echoed, error)

    # The accept loop is asyncio's own.
    host, port = config.addr
    server = await asyncio.start_server(handle, host, port, backlog=config.backlog)
    common.listening(server.sockets[0].getsockname())
    await stop.wait()

    # Shutdown: stop accepting, end every connection, report.
    common.start_watchdog(stats, target, lag)
    server.close()
    open_now = list(connections)
    for task in open_now:
        task.cancel()
    if open_now:
        await asyncio.wait(open_now)
    lag.stop()
    for close in at_shutdown:
        await close()
    if data is not None:
        data.remove()
    common.print_summary(stats, target, lag)


def main(target=TARGET, about=ABOUT, run=asyncio.run):
    config = common.parse_config(about)
    try:
        run(serve(config, target))
    except OSError as e:
        sys.exit(f"{target}: error: {e}")


if __name__ == "__main__":
    main()

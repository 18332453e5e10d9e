"""The leanest uvloop echo server, the yardstick scripts/fidelity.sh holds python-uvloop to.

asyncio_minimal.py unchanged on uvloop's event loop (libuv), as uvloop_server.py is
asyncio_server.py on that loop. Its `--drain` (accept until the queue is empty, instead of
libuv's one connection per turn of the loop) is documented there and in docs/scale.md.

    .venv/bin/python python/uvloop_minimal.py --addr 127.0.0.1:0 [--backlog N] [--drain]
"""

import uvloop

import asyncio_minimal

if __name__ == "__main__":
    asyncio_minimal.main(run=uvloop.run, about=__doc__)

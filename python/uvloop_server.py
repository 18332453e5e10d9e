"""python-uvloop: asyncio_server.py unchanged, on uvloop's event loop (libuv) instead of asyncio's
own. Whatever differs between the two rows of a table is the loop, not the program.

    .venv/bin/python python/uvloop_server.py --addr 127.0.0.1:0 [--work sleep:1ms] ...
"""

import asyncio_server
import echo_common as common

uvloop = common.require("uvloop")

if __name__ == "__main__":
    asyncio_server.main("python-uvloop", "the asyncio server on uvloop's loop", run=uvloop.run)

"""What the Python servers share, written once: the same job as the Rust `echo-common` crate.

The flags (same names and defaults as the Rust servers), the connection counters and the one-line
JSON summary (the same keys, which loadgen parses), the work done per message (the same data file
and the same SQLite database, built by the same recipe as crates/common/src/work.rs), and the
loop-lag probe (a ticker thread handing a moment to the loop, as crates/common/src/lag.rs does).
A server script holds only what its concurrency model makes different.
"""

import argparse
import itertools
import json
import math
import os
import re
import socket
import sqlite3
import sys
import tempfile
import threading
import time

# Same defaults as crates/common/src/config.rs, for the same reasons given there.
DEFAULT_ADDR = "127.0.0.1:7878"
DEFAULT_BUFFER = 16 * 1024
DEFAULT_MAX_CONNECTIONS = 16_384
DEFAULT_BACKLOG = 4096
DEFAULT_MSG_SIZE = 64

# How long the server may take to close its connections after the shutdown signal before it
# exits regardless (crates/common/src/server.rs: SHUTDOWN_GRACE).
SHUTDOWN_GRACE = 5.0

# How often the loop-lag probe asks to run (crates/common/src/lag.rs: LAG_PERIOD).
LAG_PERIOD = 0.010

# The SQLite work's table and query (crates/common/src/work.rs: SQLITE_ROWS, SQLITE_QUERY).
SQLITE_ROWS = 20_000
SQLITE_QUERY = "SELECT count(*), sum(amount) FROM orders WHERE note LIKE '%7%'"

# Bytes per read of the file work (crates/common/src/work.rs: FILE_CHUNK).
FILE_CHUNK = 8 * 1024

NEEDS_SETUP = "run scripts/setup.sh python to install the pinned packages into .venv/"


def require(module):
    """Imports `module`, or exits with a line saying how to install it."""
    try:
        return __import__(module)
    except ImportError:
        sys.exit(f"{os.path.basename(sys.argv[0])}: error: the '{module}' package is missing; "
                 f"{NEEDS_SETUP}")


# -------------------------------------------------------------------------------------------------
# Flags


def parse_duration(s):
    """`250us`, `1.5ms`, `10s`, `2m`: the spellings crates/common/src/units.rs accepts."""
    m = re.fullmatch(r"([0-9.]+)(ns|us|µs|ms|s|m|min)", s.strip())
    if not m:
        raise ValueError(f"'{s}' is not a duration: write e.g. 500us, 1ms, 10s")
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0}
    return float(m.group(1)) * scale[m.group(2)]


def parse_bytes(s):
    """`64`, `16KiB`, `1MiB`: binary multiples, as crates/common/src/units.rs reads them."""
    m = re.fullmatch(r"([0-9]+)(|B|K|KiB|k|M|MiB|G|GiB)", s.strip())
    if not m:
        raise ValueError(f"'{s}' is not a byte count: write e.g. 64, 16KiB, 1MiB")
    scale = {"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "k": 1 << 10, "M": 1 << 20,
             "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}
    return int(m.group(1)) * scale[m.group(2)]


class Work:
    """A `--work` spelling: `kind` is the word before the colon, `seconds` or `bytes` its value."""

    DURATIONS = ("sleep", "block", "offload", "cpu")
    SIZES = ("file-block", "file-offload")
    BARE = ("none", "sqlite-block", "sqlite-offload")

    def __init__(self, spelling):
        kind, _, arg = spelling.partition(":")
        self.kind, self.seconds, self.bytes = kind, 0.0, 0
        if kind in self.DURATIONS:
            self.seconds = parse_duration(arg) if arg else _fail(spelling, "needs a duration")
            if self.seconds <= 0:
                _fail(spelling, "the duration must be more than zero")
        elif kind in self.SIZES:
            self.bytes = parse_bytes(arg) if arg else _fail(spelling, "needs a size")
            if self.bytes == 0:
                _fail(spelling, "the size must be more than zero")
        elif kind in self.BARE:
            if arg:
                _fail(spelling, f"{kind} takes no argument")
        else:
            _fail(spelling, f"unknown kind '{kind}'")


def _fail(spelling, reason):
    raise ValueError(f"invalid work '{spelling}': {reason}")


def _address(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"'{s}' is not IP:PORT")
    return host.strip("[]"), int(port)


def _positive(s):
    n = int(s)
    if n < 1:
        raise ValueError("must be at least 1")
    return n


def parse_config(about, argv=None):
    """The Rust servers' flags (crates/common/src/config.rs), parsed and checked."""
    p = argparse.ArgumentParser(
        description=f"TCP echo server: {about}.",
        epilog="Prints `listening on IP:PORT` first; on SIGINT or SIGTERM stops accepting, closes "
               "its connections, prints a one-line JSON summary and exits 0.")
    p.add_argument("--addr", type=_address, default=DEFAULT_ADDR,
                   help="address to listen on; port 0 picks a free port")
    p.add_argument("--threads", type=_positive, default=os.cpu_count() or 1,
                   help="accepted for the suite's sake; these servers have no worker pool to size")
    p.add_argument("--buffer", type=_positive, default=DEFAULT_BUFFER,
                   help="bytes read from a connection at a time")
    p.add_argument("--max-connections", type=_positive, default=DEFAULT_MAX_CONNECTIONS,
                   help="connections held at once; beyond it a new one is closed at once")
    p.add_argument("--backlog", type=_positive, default=DEFAULT_BACKLOG,
                   help="length of the kernel's queue of connections not yet accepted")
    p.add_argument("--nagle", action="store_true", help="leave Nagle's algorithm on")
    p.add_argument("--work", type=Work, default=Work("none"),
                   help="none, sleep:DUR, block:DUR, offload:DUR, cpu:DUR, file-block:BYTES, "
                        "file-offload:BYTES, sqlite-block, sqlite-offload")
    p.add_argument("--work-every", type=_positive, default=1,
                   help="do the work on every Nth message of a connection only")
    p.add_argument("--msg-size", type=_positive, default=DEFAULT_MSG_SIZE,
                   help="message size, which is how the server tells messages apart")
    config = p.parse_args(argv)
    if config.buffer > 64 << 20:
        p.error(f"--buffer {config.buffer}: more than the 64 MiB allowed")
    return config


# -------------------------------------------------------------------------------------------------
# The work's data: the same file and database as the Rust servers


_next_temp = itertools.count()


def temp_path(kind):
    """A fresh path in the temporary directory, named as crates/common/src/work/mod.rs names it.
    Whatever an earlier process with the same id left there (killed before it could remove its
    files: a database, or its journal) is removed first, so the work starts from nothing."""
    name = f"echo-bench-{os.getpid()}-{kind}-{next(_next_temp)}"
    path = os.path.join(tempfile.gettempdir(), name)
    for stale in (path, path + "-journal"):
        try:
            os.remove(stale)
        except FileNotFoundError:
            pass
    return path


class DataFile:
    """A file of `size` bytes of `e`, for the `file-*` work; `remove()` deletes it."""

    def __init__(self, size):
        self.path, self.size = temp_path("data"), size
        with open(self.path, "wb") as f:
            for _ in range(size // (1 << 20)):
                f.write(b"e" * (1 << 20))
            f.write(b"e" * (size % (1 << 20)))
            f.flush()
            os.fsync(f.fileno())

    def check(self, data):
        if len(data) != self.size:
            raise OSError(f"read {len(data)} bytes of {self.path}, expected {self.size}")

    def remove(self):
        _remove(self.path)


class Database:
    """The `orders` table of the `sqlite-*` work; `remove()` deletes it."""

    def __init__(self):
        self.path = temp_path("sqlite")
        conn = sqlite3.connect(self.path)
        with conn:
            conn.execute("CREATE TABLE orders "
                         "(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT)")
            conn.executemany(
                "INSERT INTO orders (customer, amount, note) VALUES (?, ?, ?)",
                ((i % 97, i % 1000, f"order {i} for customer {i % 97}")
                 for i in range(SQLITE_ROWS)))
        self.expected = tuple(conn.execute(SQLITE_QUERY).fetchone())
        conn.close()
        self.uri = f"file:{self.path}?mode=ro"
        self._local = threading.local()

    def query(self):
        """Runs the query on this thread's own read-only connection, opened once."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.uri, uri=True)
        self.check(tuple(conn.execute(SQLITE_QUERY).fetchone()))

    def check(self, got):
        if got != self.expected:
            raise OSError(f"query returned {got}, expected {self.expected}")

    def remove(self):
        _remove(self.path)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def prepare(work):
    """Creates what `work` reads: its data file or database (None for the other kinds)."""
    if work.kind in Work.SIZES:
        return DataFile(work.bytes)
    if work.kind.startswith("sqlite-"):
        return Database()
    return None


def spin(seconds):
    """Burns CPU (and, in Python, holds the interpreter lock) until `seconds` have passed."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(64):
            x = (x * 6364136223846793005 + i) & 0xFFFF_FFFF_FFFF_FFFF


def run_blocking(work, data):
    """Does `work` on the calling thread, blocking it: the blocking form of every kind."""
    if work.kind in ("sleep", "block", "offload"):
        time.sleep(work.seconds)
    elif work.kind == "cpu":
        spin(work.seconds)
    elif work.kind in Work.SIZES:
        with open(data.path, "rb") as f:
            data.check(f.read())
    elif work.kind.startswith("sqlite-"):
        data.query()


class Framer:
    """Counts a connection's bytes into messages, to find the working ones (work.rs: Framer)."""

    __slots__ = ("cycle", "offset")

    def __init__(self, msg_size, every):
        self.cycle, self.offset = msg_size * every, 0

    def received(self, n):
        end = self.offset + n
        self.offset = end % self.cycle
        return end // self.cycle


# -------------------------------------------------------------------------------------------------
# Counters and the summary


class Stats:
    """What the server counts. Only the loop thread (or, for threads, under `lock`) touches it."""

    def __init__(self, config):
        self.max = config.max_connections
        self.accepted = self.closed = self.refused = self.bytes = self.errors = 0
        self.resets_by_peer = 0
        self.active = 0
        self.lock = threading.Lock()

    def admit(self, peer):
        """Counts a new connection in, or turns it away at the cap (returns False)."""
        with self.lock:
            if self.active >= self.max:
                self.refused += 1
                refused = self.refused
            else:
                self.active += 1
                self.accepted += 1
                return True
        # Logged at 1, 2, 4, 8, ... so a flood of refusals cannot flood the log.
        if refused & (refused - 1) == 0:
            print(f"connection limit of {self.max} reached: closed the new connection from "
                  f"{peer[0]}:{peer[1]} ({refused} turned away so far; raise --max-connections "
                  f"to allow more)", file=sys.stderr, flush=True)
        return False

    def close(self, echoed, error=None):
        """Counts a connection out; `error` is what ended it, if anything did. A peer that resets,
        aborts or stops reading (broken pipe) ended it itself: that is not the server's failure,
        so it is counted apart, as the Rust servers do."""
        with self.lock:
            self.active -= 1
            self.closed += 1
            self.bytes += echoed
            if isinstance(error, ConnectionError):
                self.resets_by_peer += 1
            elif error is not None:
                self.errors += 1

    def summary(self, target, lag):
        return json.dumps(separators=(",", ":"), obj={
            "target": target, "accepted": self.accepted, "closed": self.closed,
            "refused": self.refused, "bytes_echoed": self.bytes, "errors": self.errors,
            "resets_by_peer": self.resets_by_peer,
            "loop_lag_ns": lag.summary() if lag else None,
            "runtime": runtime(),
        })


def runtime():
    """The interpreter and the event-loop package that served, with their versions, for the
    summary: `CPython 3.11.9`, `CPython 3.11.9, uvloop 0.23.0`, `CPython 3.11.9, gevent 26.9.0
    (libev-4.33, epoll)`. A package counts if the server imported it."""
    import platform
    parts = [f"{platform.python_implementation()} {platform.python_version()}"]
    if "uvloop" in sys.modules:
        parts.append(f"uvloop {sys.modules['uvloop'].__version__}")
    if "gevent" in sys.modules:
        gevent = sys.modules["gevent"]
        loop = gevent.get_hub().loop
        core = sys.modules[type(loop).__module__]
        parts.append(f"gevent {gevent.__version__} ({core.get_version()}, {loop.backend})")
    return ", ".join(parts)


def name_this_thread(name):
    """Gives the calling thread its name in the kernel too (/proc/PID/task/TID/comm), as the Rust
    servers' threads have, so tools and tests can tell the lag ticker from the loop. Python 3.11
    names threads only inside the interpreter."""
    try:
        import ctypes
        PR_SET_NAME = 15
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, ctypes.c_char_p(name[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # Only a label: a platform without prctl serves the same without it.


def listening(address):
    """The first line every server prints, which loadgen and the tests wait for."""
    print(f"listening on {address[0]}:{address[1]}", flush=True)


def nodelay(sock, config):
    if not config.nagle:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# -------------------------------------------------------------------------------------------------
# The loop-lag probe


class Lag:
    """How late the event loop runs a callback that is ready, while connections are open.

    A ticker thread marks a moment every LAG_PERIOD and hands it to the loop with
    `call_soon_threadsafe`; the callback records how long the hand-over waited. A tick not yet
    taken is kept, not replaced, so a blocked loop is charged from the first tick it missed.
    Lags are kept in buckets of about 0.1% width (like an HDR histogram at 3 digits), so memory
    stays flat however long the run.
    """

    def __init__(self, loop, stats):
        self.loop, self.stats = loop, stats
        self.buckets = {}
        self.samples = self.total = self.max = 0
        self.pending = False
        self.stopped = threading.Event()
        # The server says it is listening only once the ticker has its kernel name: a tool
        # (or test) that looks for it as soon as the server serves must find it.
        named = threading.Event()
        threading.Thread(target=self._tick, args=(named,), name="lag-ticker", daemon=True).start()
        named.wait()

    def _tick(self, named):
        name_this_thread(b"lag-ticker")
        named.set()
        while not self.stopped.wait(LAG_PERIOD):
            if self.stats.active > 0 and not self.pending:
                self.pending = True
                self.loop.call_soon_threadsafe(self._probe, time.perf_counter_ns())

    def _probe(self, tick):
        self.pending = False
        if self.stats.active > 0:
            lag = max(1, time.perf_counter_ns() - tick)
            shift = max(0, lag.bit_length() - 11)
            key = lag >> shift << shift
            self.buckets[key] = self.buckets.get(key, 0) + 1
            self.samples += 1
            self.total += lag
            self.max = max(self.max, lag)

    def stop(self):
        self.stopped.set()

    def summary(self):
        def at(q):
            rank, seen = max(1, math.ceil(q * self.samples)), 0
            for key in sorted(self.buckets):
                seen += self.buckets[key]
                if seen >= rank:
                    return key
            return 0
        return {"samples": self.samples, "mean": self.total // max(1, self.samples),
                "p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": self.max}


# -------------------------------------------------------------------------------------------------
# Shutdown

_printed = threading.Lock()


def print_summary(stats, target, lag):
    """Prints the summary line once, whoever gets there first: the server or its watchdog."""
    if _printed.acquire(blocking=False):
        print(stats.summary(target, lag), flush=True)


def start_watchdog(stats, target, lag, armed_by=None):
    """Exits SHUTDOWN_GRACE after the shutdown signal if connections are still open, so a
    connection stuck in long work cannot keep the process alive forever. Called at the signal,
    or beforehand with the event the signal sets (`armed_by`): a server with thousands of threads
    waiting for the interpreter lock takes a second to start one more."""

    def expire():
        if armed_by is not None:
            armed_by.wait()
        time.sleep(SHUTDOWN_GRACE)
        print(f"{stats.active} connections still open {SHUTDOWN_GRACE:.0f}s after the shutdown "
              f"signal; exiting anyway", file=sys.stderr, flush=True)
        print_summary(stats, target, lag)
        os._exit(0)

    threading.Thread(target=expire, name="shutdown-watchdog", daemon=True).start()


def second_signal(signum):
    """A second SIGINT or SIGTERM: the user will not wait for the connections to close."""
    print("second signal: exiting without waiting for connections to close", file=sys.stderr,
          flush=True)
    os._exit(128 + signum)

"""python-gevent: python-threads' own blocking code, made cooperative by gevent.

`gevent.monkey.patch_all()` replaces the standard library's sockets, `select`, `time.sleep` and
threads with cooperative versions before anything else is imported, then threads_server.py runs
unchanged: `socketserver.ThreadingTCPServer` now starts a greenlet per connection, and every
`recv`, `sendall` and `sleep` parks its greenlet and lets gevent's hub (a libev loop) run the rest.
The question this answers: can blocking code keep its shape and get an event loop's numbers?

What gevent makes cooperative, and what it does not, is exactly what the work kinds show:
  sleep         `time.sleep`, patched: parks the greenlet, the hub serves everyone else
  block         the unpatched `time.sleep` (`gevent.monkey.get_original`): the classic gevent
                mistake, a call gevent cannot see, which stops the hub and every connection
  offload       that same unpatched sleep on the hub's thread pool, awaited cooperatively
  cpu           a busy loop on the hub: no greenlet switch until it ends
  file-block    a plain file read: gevent does not make files cooperative, so it runs on the hub
  file-offload  the same read on the hub's thread pool
  sqlite-block  `sqlite3`, C code that blocks the hub for the whole query
  sqlite-offload  the same query on the hub's thread pool
The thread pool is gevent's own (`gevent.get_hub().threadpool`, 10 threads by default).

One change to how threads_server.py starts a connection's handler: a greenlet spawned into a
`gevent.pool.Group`, not a (patched) `threading.Thread`. `Thread.start()` waits until the new
thread has started, which under gevent means a trip through the hub, where every connection that
is ready runs first: the accept loop then took one connection per turn of the whole hub, and at
1000 clients left about 650 of them unaccepted for the whole run (docs/third-way.md).

    .venv/bin/python python/gevent_server.py --addr 127.0.0.1:0 [--work block:1ms] ...
"""

from gevent import monkey

monkey.patch_all()

# The rest is imported patched, as an application under gevent would be.
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402

import echo_common as common  # noqa: E402
import threads_server  # noqa: E402

TARGET = "python-gevent"
ABOUT = "the python-threads server under gevent.monkey.patch_all(), a greenlet per connection"

# The originals gevent replaced: a real thread for the lag ticker (which must keep time while the
# hub is stuck), and the sleep gevent cannot see.
real_sleep = monkey.get_original("time", "sleep")
start_real_thread = monkey.get_original("_thread", "start_new_thread")


def run_work(work, data):
    """Does `work` the gevent way for each kind (see the module's doc)."""
    kind = work.kind
    if kind == "sleep":
        time.sleep(work.seconds)
    elif kind == "block":
        real_sleep(work.seconds)
    elif kind == "offload":
        gevent.get_hub().threadpool.apply(real_sleep, (work.seconds,))
    elif kind == "file-offload":
        gevent.get_hub().threadpool.apply(common.run_blocking, (work, data))
    elif kind == "sqlite-offload":
        gevent.get_hub().threadpool.apply(data.query)
    else:  # cpu, file-block, sqlite-block: on the hub, as written.
        common.run_blocking(work, data)


class HubLag(common.Lag):
    """The loop-lag probe of common.Lag on gevent's hub: a real (unpatched) thread marks a moment
    every LAG_PERIOD and hands it to the hub with `run_callback_threadsafe`. A ticker greenlet
    would run on the hub it measures, and so could not even wake while the hub is blocked; a
    real thread keeps ticking, and its tick waits for the hub like everyone else's work."""

    def __init__(self, stats):  # noqa: super().__init__ would start a patched (green) thread.
        self.loop, self.stats = gevent.get_hub().loop, stats
        self.buckets = {}
        self.samples = self.total = self.max = 0
        self.pending = False
        self.stopping = False
        named = monkey.get_original("_thread", "allocate_lock")()
        named.acquire()
        start_real_thread(self._tick_real, (named,))
        named.acquire()  # A real lock: blocks the hub for the moment it takes to name a thread.

    def _tick_real(self, named):
        common.name_this_thread(b"lag-ticker")
        named.release()
        while not self.stopping:
            real_sleep(common.LAG_PERIOD)
            if self.stats.active > 0 and not self.pending:
                self.pending = True
                self.loop.run_callback_threadsafe(self._probe, time.perf_counter_ns())

    def stop(self):
        self.stopping = True


class HubSignals:
    """SIGINT and SIGTERM as the hub delivers them (`gevent.signal_handler`): a `sigwait` would
    stop the hub, and every connection with it, until a signal came."""

    def __init__(self):
        self.stop = gevent.event.Event()
        self.seen = 0

    def _on(self, signum):
        self.seen += 1
        if self.seen > 1:
            common.second_signal(signum)
        self.stop.set()

    def block(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(signum, self._on, signum)

    def wait(self):
        self.stop.wait()



def main():
    config = common.parse_config(ABOUT)
    try:
        threads_server.serve(config, TARGET, signals=HubSignals(), work=run_work, lag=HubLag,
                             handlers=gevent.pool.Group())
    except OSError as e:
        sys.exit(f"{TARGET}: error: {e}")


if __name__ == "__main__":
    main()

"""python-threads: the article's synchronous server, made concurrent the usual way.

`socketserver.ThreadingTCPServer` accepts on one thread and serves each connection on a thread of
its own, blocked in `recv` until its client speaks. There is no event loop to block, so every work
model runs in its natural blocking form on the connection's own thread: `sleep`, `block` and
`offload` are all `time.sleep`, `file-offload` is `open().read()` like `file-block`, and
`sqlite-offload` is `sqlite3` like `sqlite-block`. Python threads take turns holding the
interpreter lock, which each one releases while it waits in `recv`, `send` or `time.sleep`.

    .venv/bin/python python/threads_server.py --addr 127.0.0.1:0 [--work block:1ms] ...
"""

import os
import signal
import socket
import socketserver
import sys
import threading
import time

import echo_common as common

TARGET = "python-threads"
ABOUT = "socketserver.ThreadingTCPServer, one thread per connection"

# How long a thread may hold the interpreter lock while others wait for it. Every waiting thread
# wakes this often to ask for the lock: at CPython's default 5 ms, 10,000 connections' threads all
# woken at once (every client closing, as at the end of a run) spend both CPUs asking, and the
# server answers its shutdown signal tens of seconds late. The interval only bounds how long one
# thread keeps the lock from the others: handlers give it up at every `recv` and `send`, so only
# `cpu:` work longer than 5 ms is taken off the lock later than CPython's default would.
SWITCH_INTERVAL = 0.1

# How often `serve_forever` looks for a shutdown request, and shutdown for the last connection to
# close; it only bounds how long stopping takes.
POLL_INTERVAL = 0.05


class Signals:
    """SIGINT and SIGTERM, taken by the main thread with `sigwait`: blocked before any other
    thread starts (and inherits the mask), so no thread is interrupted by them. A second signal
    is taken by a thread started with the server, which waits its turn until the first is in."""

    SIGNALS = {signal.SIGINT, signal.SIGTERM}

    def __init__(self):
        self.first = threading.Event()

    def block(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)

        def second():
            self.first.wait()
            common.second_signal(signal.sigwait(self.SIGNALS))

        threading.Thread(target=second, name="second-signal", daemon=True).start()

    def wait(self):
        signal.sigwait(self.SIGNALS)
        self.first.set()


def serve(config, target, signals=None, work=common.run_blocking, lag=None, handlers=None):
    """Serves until SIGINT or SIGTERM. gevent_server.py runs this same code cooperatively, with
    its own `signals`, `work` (how each kind runs), `lag` (a probe of its hub) and `handlers` (a
    group that starts each connection's handler with `spawn` and waits for them all with `join`,
    instead of socketserver's threads)."""
    # Set-up: the work's data, the counters, the signals.
    signals = signals or Signals()
    signals.block()
    data = common.prepare(config.work)
    stats = common.Stats(config)
    lag = lag(stats) if lag else None
    stopping = threading.Event()
    # Everything shutdown needs runs from here on, started now: at 10,000 connections, threads
    # that wait for the interpreter lock make each new thread, and each hand-over, take a second.
    common.start_watchdog(stats, target, lag, armed_by=stopping)
    open_sockets = set()
    open_lock = threading.Lock()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        request_queue_size = config.backlog
        # Daemon threads, which socketserver does not track. It keeps the others in a list, to
        # join them at close, and rescans that list on every accept: at 10,000 connections the
        # accept thread falls seconds behind. Shutdown waits for the connection count instead.
        daemon_threads = True
        block_on_close = False

        def server_activate(self):
            super().server_activate()
            self.socket.setblocking(False)  # So that service_actions can tell the queue is empty.

        def service_actions(self):
            # socketserver accepts one connection each time its loop wakes. Under gevent a wake-up
            # is a turn of the whole hub, long at 1000 busy connections, so clients would wait in
            # the kernel's queue for seconds: every connection waiting is taken, as gevent's own
            # StreamServer does.
            self.waiting = True
            while self.waiting:
                self._handle_request_noblock()

        def get_request(self):
            try:
                return super().get_request()
            except OSError:  # The queue is empty, or no descriptor is left: wait for the next wake-up.
                self.waiting = False
                raise

        def verify_request(self, request, client_address):
            return not stopping.is_set() and stats.admit(client_address)

        def process_request(self, request, client_address):
            # Tracked here, on the accepting thread, so that shutdown sees every admitted socket.
            with open_lock:
                open_sockets.add(request)
            if handlers is None:
                super().process_request(request, client_address)
            else:
                handlers.spawn(self.process_request_thread, request, client_address)

        def shutdown_request(self, request):
            with open_lock:
                open_sockets.discard(request)
            super().shutdown_request(request)

    # One connection: read, do the work its completed messages are due, echo, repeat.
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            sock = self.request
            common.nodelay(sock, config)
            framer = common.Framer(config.msg_size, config.work_every)
            # Bound once: the loop runs per message, and an attribute lookup there costs more
            # than the echo's own Python.
            recv, sendall, buffer = sock.recv, sock.sendall, config.buffer
            job = config.work if config.work.kind != "none" else None
            echoed, error = 0, None
            try:
                while data_in := recv(buffer):
                    if job is not None:
                        for _ in range(framer.received(len(data_in))):
                            work(job, data)
                    sendall(data_in)
                    echoed += len(data_in)
            except OSError as e:
                error = e
            finally:
                stats.close(echoed, error)

    # The accept loop is socketserver's own, on a thread of its own.
    host, port = config.addr
    server = Server((host, port), Handler)
    common.listening(server.server_address)
    accepting = threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,),
                                 name="accept")
    accepting.start()
    signals.wait()

    # Shutdown: stop accepting, wake every connection's thread by shutting its socket, report.
    stopping.set()
    server.shutdown()
    with open_lock:
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # The peer already closed it.
    server.server_close()
    if handlers is not None:
        handlers.join()
    while stats.active:  # The watchdog bounds this wait.
        time.sleep(POLL_INTERVAL)
    if lag is not None:
        lag.stop()
    if data is not None:
        data.remove()
    common.print_summary(stats, target, lag)


def main():
    config = common.parse_config(ABOUT)
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        serve(config, TARGET)
    except OSError as e:
        sys.exit(f"{TARGET}: error: {e}")
    # The summary is out and every connection closed. What is left is up to one finished thread
    # per connection, which the interpreter's own exit would tear down one lock hand-over at a
    # time: tens of seconds at 10,000 connections.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

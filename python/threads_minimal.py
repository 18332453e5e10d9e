"""The leanest Python threads echo server: the yardstick fidelity.sh holds python-threads to.

`socketserver.ThreadingTCPServer` with a daemon thread per connection blocked in `recv`, 16 KiB
reads, TCP_NODELAY, backlog 4096. No flags of the suite, no work, no counters, no graceful
shutdown. Prints `listening on IP:PORT` first, as the suite's servers do, and takes only --addr.

    .venv/bin/python python/threads_minimal.py --addr 127.0.0.1:0
"""

import socket
import socketserver
import sys

BUFFER = 16 * 1024
# The suite's servers listen with this backlog (crates/common/src/config.rs: DEFAULT_BACKLOG);
# socketserver's own default is 5.
BACKLOG = 4096


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        recv, sendall = self.request.recv, self.request.sendall  # Bound once, not per message.
        try:
            while data := recv(BUFFER):
                sendall(data)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    request_queue_size = BACKLOG
    # Threads socketserver does not keep a list of, to join at close: nothing here waits for them.
    daemon_threads = True


def main():
    addr = sys.argv[sys.argv.index("--addr") + 1] if "--addr" in sys.argv else "127.0.0.1:7878"
    host, _, port = addr.rpartition(":")
    with Server((host, int(port)), Echo) as server:
        print("listening on {}:{}".format(*server.server_address), flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()

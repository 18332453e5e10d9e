"""The leanest idiomatic gevent echo server, the yardstick for gevent_server.py in
scripts/fidelity.sh: a `gevent.server.StreamServer` whose handler reads and writes back. Prints
`listening on IP:PORT` first, as the suite's servers do, and takes only --addr.

    .venv/bin/python python/gevent_minimal.py --addr 127.0.0.1:0
"""

import socket
import sys

from gevent.server import StreamServer


def echo(sock, _address):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    recv, sendall = sock.recv, sock.sendall  # Bound once, not looked up per message.
    try:
        while data := recv(16 * 1024):
            sendall(data)
    except OSError:
        pass
    finally:
        sock.close()


def main():
    addr = sys.argv[sys.argv.index("--addr") + 1] if "--addr" in sys.argv else "127.0.0.1:7878"
    host, _, port = addr.rpartition(":")
    server = StreamServer((host, int(port)), echo, backlog=4096)
    server.start()
    print(f"listening on {server.address[0]}:{server.address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

//! The leanest idiomatic mio echo server, the yardstick `scripts/fidelity.sh` holds the `mio`
//! target to: one thread, a slab of connections, read until `WouldBlock` as mio's own examples
//! do, keep what a full socket would not take until it is writable, a 16 KiB buffer,
//! TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-mio --example mio-minimal -- 127.0.0.1:7878
//! ```

use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// `buf[from..to]` is still to be echoed.
    from: usize,
    to: usize,
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    let mut listener = TcpListener::bind(addr.parse().map_err(std::io::Error::other)?)?;
    println!("listening on {}", listener.local_addr()?);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut connections = Slab::new();
    let mut events = Events::with_capacity(1024);
    loop {
        poll.poll(&mut events, None)?;
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    let (mut stream, _) = match listener.accept() {
                        Ok(accepted) => accepted,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    };
                    stream.set_nodelay(true)?;
                    let entry = connections.vacant_entry();
                    poll.registry().register(
                        &mut stream,
                        Token(entry.key()),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    entry.insert(Connection {
                        stream,
                        buf: vec![0; 16 * 1024],
                        from: 0,
                        to: 0,
                    });
                }
                continue;
            }
            let slot = event.token().0;
            let Some(c) = connections.get_mut(slot) else {
                continue;
            };
            let open = loop {
                if c.from < c.to {
                    match c.stream.write(&c.buf[c.from..c.to]) {
                        Ok(n) => c.from += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break true,
                        Err(_) => break false,
                    }
                    continue;
                }
                match c.stream.read(&mut c.buf) {
                    Ok(0) => break false,
                    Ok(n) => (c.from, c.to) = (0, n),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break true,
                    Err(_) => break false,
                }
            };
            if !open {
                connections.remove(slot);
            }
        }
    }
}

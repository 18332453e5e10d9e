//! The listening socket, set up the same way for every server.

use std::io;
use std::net::TcpListener;

use socket2::{Domain, Protocol, Socket, Type};

use crate::Config;

/// Binds and listens on `config.addr` with the configured backlog. `SO_REUSEADDR` is set so a
/// server can be restarted on the same port while old connections sit in TIME_WAIT. The listener
/// is in blocking mode; async servers hand it to their runtime, which makes it non-blocking.
pub fn bind(config: &Config) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(config.addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&config.addr.into())?;
    // The kernel silently caps this at net.core.somaxconn.
    socket.listen(config.backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

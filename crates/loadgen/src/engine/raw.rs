//! Socket reads and writes as direct system calls (rustix), failing with the bare error number.
//!
//! Two costs of the usual path, both paid on every message, are left out:
//! - The C library's `recv` and `send` are cancellation points: in a process with more than one
//!   thread each call brackets the system call with two cancellation-state switches. The engine
//!   never cancels a thread, so it needs neither.
//! - Every read ends on "would block". As an `io::Error` that is a value to build, to ask its
//!   kind (a table of error numbers) and to drop; as an [`Errno`] it is one comparison.
//!
//! (What each saved, counted with callgrind, is in the commit messages that made them.)

use std::os::fd::AsFd;

pub use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

/// Reads what `socket` holds into `buf`; 0 at the end of the stream.
#[inline]
pub fn recv(socket: &impl AsFd, buf: &mut [u8]) -> Result<usize, Errno> {
    rustix::net::recv(socket, buf, RecvFlags::empty()).map(|(n, _)| n)
}

/// Writes what `socket` takes of `buf`.
#[inline]
pub fn send(socket: &impl AsFd, buf: &[u8]) -> Result<usize, Errno> {
    // No SIGPIPE for a peer that has gone: the error says so instead.
    rustix::net::send(socket, buf, SendFlags::NOSIGNAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn reads_and_writes_reach_the_peer_and_errors_keep_their_number() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(send(&client, b"ping"), Ok(4));
        let mut got = [0; 4];
        assert_eq!(recv(&server, &mut got), Ok(4));
        assert_eq!(&got, b"ping");
        client.set_nonblocking(true).unwrap();
        assert_eq!(recv(&client, &mut got), Err(Errno::AGAIN));
        drop(server);
        assert_eq!(recv(&client, &mut got), Ok(0), "end of stream");
    }
}

//! Socket reads and writes as direct system calls (rustix). The C library's `recv` and `send`
//! are cancellation points: in a process with more than one thread each call brackets the system
//! call with two cancellation-state switches, about seventy instructions per round trip by
//! callgrind's count — a tenth of the engine's own work per message. The engine never cancels a
//! thread, so it calls the kernel directly.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use rustix::net::{RecvFlags, SendFlags, recv, send};

/// A socket, read and written without the C library.
pub struct Raw<'a, S: AsFd>(pub &'a S);

impl<S: AsFd> Read for Raw<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = recv(self.0, buf, RecvFlags::empty())?;
        Ok(n)
    }
}

impl<S: AsFd> Write for Raw<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // No SIGPIPE for a peer that has gone: the error says so instead.
        Ok(send(self.0, buf, SendFlags::NOSIGNAL)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn reads_and_writes_reach_the_peer_and_errors_keep_their_kind() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        Raw(&client).write_all(b"ping").unwrap();
        let mut got = [0; 4];
        Raw(&server).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        client.set_nonblocking(true).unwrap();
        let e = Raw(&client).read(&mut got).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(server);
        assert_eq!(Raw(&client).read(&mut got).unwrap(), 0, "end of stream");
    }
}

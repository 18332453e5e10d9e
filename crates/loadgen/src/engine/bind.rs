//! `--bind IP[,IP...]`: client connections spread over several local source addresses.
//!
//! A connection is four numbers (source address and port, server address and port); with one
//! source address, one host can open only as many connections to one server port as it has
//! ephemeral ports (28,232 by Linux's default range). Each extra source address adds as many
//! again. Each socket is bound to its source address before it connects, with
//! `IP_BIND_ADDRESS_NO_PORT`, so that the kernel still picks the port at connect time, for the
//! whole 4-tuple, rather than reserve one at bind time for every destination.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};

use nix::sys::socket::{setsockopt, sockopt::IpBindAddressNoPort};
use socket2::{Domain, Protocol, Socket, Type};

/// Parses `IP[,IP...]`; every address must be one this host has (checked by binding to it).
pub fn parse_sources(list: &str, server: SocketAddr) -> Result<Vec<IpAddr>, String> {
    let mut sources = Vec::new();
    for text in list.split(',').map(str::trim) {
        let ip: IpAddr = text
            .parse()
            .map_err(|_| format!("--bind {text}: not an IP address"))?;
        if ip.is_ipv4() != server.is_ipv4() {
            return Err(format!(
                "--bind {ip}: the server {server} is {}; give source addresses of the same kind",
                if server.is_ipv4() { "IPv4" } else { "IPv6" }
            ));
        }
        if sources.contains(&ip) {
            return Err(format!("--bind {ip} is listed twice"));
        }
        let probe = Socket::new(Domain::for_address(server), Type::STREAM, None)
            .and_then(|s| s.bind(&SocketAddr::new(ip, 0).into()));
        if let Err(e) = probe {
            return Err(format!(
                "--bind {ip}: cannot use it as a source address ({e}); give addresses this host \
                 has (`ip -brief address`)"
            ));
        }
        sources.push(ip);
    }
    Ok(sources)
}

/// The source address of client `id`: the sources taken in turn.
pub fn source_of(sources: &[IpAddr], id: usize) -> Option<IpAddr> {
    (!sources.is_empty()).then(|| sources[id % sources.len()])
}

/// Starts a non-blocking connect to `server` from `source` (its port chosen by the kernel at
/// connect time). The stream comes back with the connect under way, as `mio`'s own
/// `TcpStream::connect` leaves it: writable once connected.
pub fn connect_from(source: IpAddr, server: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    setsockopt(&socket, IpBindAddressNoPort, &true).map_err(io::Error::from)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    match socket.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sources_must_be_addresses_of_this_host() {
        let server: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            parse_sources("127.0.0.2, 127.0.0.3", server).unwrap(),
            [
                "127.0.0.2".parse::<IpAddr>().unwrap(),
                "127.0.0.3".parse().unwrap()
            ]
        );
        let err = |list| parse_sources(list, server).unwrap_err();
        assert!(err("127.0.0.2,nope").contains("--bind nope: not an IP address"));
        assert!(err("127.0.0.2,127.0.0.2").contains("listed twice"));
        assert!(err("::1").contains("IPv4"));
        // 192.0.2.0/24 is a documentation range: no host here has it (binding sends nothing).
        assert!(err("192.0.2.77").contains("cannot use it as a source address"));
    }

    #[test]
    fn clients_take_the_sources_in_turn() {
        let s: Vec<IpAddr> = ["127.0.0.2", "127.0.0.3"]
            .map(|a| a.parse().unwrap())
            .into();
        let picked: Vec<_> = (0..4).map(|id| source_of(&s, id).unwrap()).collect();
        assert_eq!(picked, [s[0], s[1], s[0], s[1]]);
        assert_eq!(source_of(&[], 3), None);
    }

    #[test]
    fn a_connection_comes_from_its_source() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream =
            connect_from("127.0.0.3".parse().unwrap(), listener.local_addr().unwrap()).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), "127.0.0.3".parse::<IpAddr>().unwrap());
        assert_eq!(stream.local_addr().unwrap(), peer);
    }
}

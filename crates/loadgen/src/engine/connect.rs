//! A client thread's connect phase: every connection of the thread opened, non-blocking, at most
//! `connect_concurrency` attempts in flight at a time, each given `--timeout` to complete.
//! Attempts still pending when the run stops are abandoned, not counted as failures.

use std::io::{self, ErrorKind};
use std::ops::Range;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::engine::bind;
use crate::engine::record::Failure;
use crate::engine::shared::{Phase, Settings, Shared};
use crate::engine::{EVENTS, TURN};

/// Opens a connection for each of `ids`, at most `connect_concurrency` attempts at a time;
/// returns the streams (by position in `ids`, `None` where it failed) and the failures.
pub fn connect(
    poll: &mut Poll,
    ids: &Range<usize>,
    settings: &Settings,
    shared: &Shared,
) -> (Vec<Option<TcpStream>>, Vec<Failure>) {
    let n = ids.len();
    let mut streams: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    // When each attempt in progress began.
    let mut since: Vec<Option<Instant>> = vec![None; n];
    let mut failures = Vec::new();
    let mut events = Events::with_capacity(EVENTS);
    let (mut next, mut pending) = (0, 0);
    loop {
        while pending < settings.connect_concurrency.max(1) && next < n {
            let i = next;
            next += 1;
            match start(poll, settings, ids.start + i, Token(i)) {
                Ok(s) => {
                    streams[i] = Some(s);
                    since[i] = Some(Instant::now());
                    pending += 1;
                }
                Err(e) => failures.push(Failure::of(&e)),
            }
        }
        if pending == 0 {
            break;
        }
        if shared.phase() == Phase::Stop {
            // Given up (Ctrl-C, the server gone): attempts still pending are abandoned, not failed.
            for i in 0..n {
                if since[i].take().is_some() {
                    streams[i] = None;
                }
            }
            break;
        }
        if let Err(e) = poll.poll(&mut events, Some(TURN))
            && e.kind() != ErrorKind::Interrupted
        {
            for i in 0..n {
                if since[i].take().is_some() {
                    streams[i] = None;
                    failures.push(Failure::of(&e));
                }
            }
            break;
        }
        for event in &events {
            let i = event.token().0;
            let Some(stream) = streams[i].as_ref().filter(|_| since[i].is_some()) else {
                continue;
            };
            match established(stream) {
                Ok(false) => continue,
                Ok(true) => shared.note_connected(),
                Err(f) => {
                    streams[i] = None;
                    failures.push(f);
                }
            }
            since[i] = None;
            pending -= 1;
        }
        let now = Instant::now();
        for i in 0..n {
            if since[i].is_some_and(|t| now - t >= settings.timeout) {
                since[i] = None;
                streams[i] = None;
                failures.push(Failure::Timeout);
                pending -= 1;
            }
        }
    }
    (streams, failures)
}

/// Starts client `id`'s connect (from its `--bind` source, if any), registered as `token`.
fn start(poll: &Poll, settings: &Settings, id: usize, token: Token) -> io::Result<TcpStream> {
    let mut stream = match bind::source_of(&settings.sources, id) {
        None => TcpStream::connect(settings.addr)?,
        Some(source) => TcpStream::from_std(bind::connect_from(source, settings.addr)?),
    };
    poll.registry()
        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
    Ok(stream)
}

/// Whether a non-blocking connect has completed: `Ok(false)` if still under way.
pub fn established(stream: &TcpStream) -> Result<bool, Failure> {
    if let Some(e) = stream.take_error().map_err(|e| Failure::of(&e))? {
        return Err(Failure::of(&e));
    }
    match stream.peer_addr() {
        Ok(_) => {
            // An echo client that lets Nagle hold back its writes measures Nagle.
            stream.set_nodelay(true).map_err(|e| Failure::of(&e))?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(Failure::of(&e)),
    }
}

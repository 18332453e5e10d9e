//! One connection's state machine. It writes what the socket takes and keeps its place for the
//! next writable event, reads until the socket would block, checks every echoed byte as it
//! arrives, and accounts each complete echo ([`reply`]).
//!
//! A connection owns no buffer: its messages are made, and its echoes checked, in its thread's
//! [`Common`] from one shared [`Pattern`], so what one round trip touches stays in cache at ten
//! thousand connections and at 16 KiB, as in the leanest client (one buffer for everyone). In
//! the closed loop an echo read whole is itself the next message, restamped. What
//! every connection of a thread shares (the message size, the clock, a churn connection's
//! message count) lives there too, and what only the open loop or churn needs (a schedule, a
//! cycle) lives beside the connection in the event loop: a connection is the few counters a
//! round trip updates, and with its socket it fills one cache line.
//!
//! It does no waiting of its own: the event loop calls it when the socket is ready (or a message
//! is due), so it is tested on real sockets driven step by step, with no timing involved.

use std::collections::VecDeque;
use std::os::fd::AsFd;

use echo_common::pattern::{HEADER, Pattern};

use crate::engine::clock::{Clock, Nanos};
use crate::engine::raw::{self, Errno};
use crate::engine::record::{Failure, Record};
use crate::engine::reply::{self, InFlight, Rules};
use crate::engine::schedule::Schedule;

/// Messages one open-loop connection keeps in flight at most. Past it the connection sends no
/// more until a reply frees a slot, and the wait shows in the corrected latency, since the
/// schedule does not wait. Sized so a stalled server is charged for seconds of messages.
pub const MAX_IN_FLIGHT: usize = 4096;

/// The most of a message made, written or read at once: large messages go through in chunks,
/// so a thread's buffers stay small whatever the message size.
const CHUNK: usize = 64 << 10;

/// What a thread's connections have in common: the message size, the clock, how many messages
/// a churning connection carries, and the buffers where one message is written, and one echo
/// read, at a time.
pub struct Common {
    size: u32,
    /// Connection churn: the messages one connection carries before it closes (closed loop);
    /// unlimited otherwise.
    limit: u64,
    clock: Clock,
    pattern: Pattern,
    out: Box<[u8]>,
    back: Box<[u8]>,
}

impl Common {
    /// For messages of `size` bytes (at most 4 GiB), timed by `clock`.
    pub fn new(size: usize, clock: Clock) -> Self {
        Common {
            size: u32::try_from(size).expect("messages are at most 4 GiB"),
            limit: u64::MAX,
            clock,
            pattern: Pattern::new(size, 0),
            out: vec![0; size.min(CHUNK)].into_boxed_slice(),
            back: vec![0; size.min(CHUNK)].into_boxed_slice(),
        }
    }

    /// Connection churn: each connection sends `n` messages, one at a time, and then no more
    /// until [`Conn::restart`] on a new socket.
    pub fn with_limit(mut self, n: u64) -> Self {
        self.limit = n;
        self
    }

    /// The thread's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }
}

/// One connection: where its current message and echo are, and what is in flight. Message
/// `next_recv` is the oldest in flight (answered next), and `next_recv + in_flight - 1` the
/// newest (the one being written); the closed loop has at most one in flight, kept inline.
pub struct Conn {
    id: u32,
    /// Bytes of the newest message written so far; the size when nothing is left to write.
    written: u32,
    /// Bytes of the oldest message's echo read (and checked) so far.
    got: u32,
    /// Messages sent and not yet answered.
    in_flight: u32,
    next_recv: u64,
    /// The oldest message in flight, when `in_flight > 0`.
    oldest: InFlight,
    /// The open loop's messages after the oldest, in order; allocated on first use.
    #[expect(
        clippy::box_collection,
        reason = "an empty queue is 32 bytes inline, a box 8: the connection stays one cache line"
    )]
    later: Option<Box<VecDeque<InFlight>>>,
    /// Whether a reply was recorded in the window (if never: a starved client).
    pub replied: bool,
    /// Open loop: whether the pacer holds an entry for this connection's next due message.
    pub queued: bool,
}

impl Conn {
    /// Connection `id` (at most 2^32 of them), nothing sent yet.
    pub fn new(id: u64, common: &Common) -> Self {
        Conn {
            id: u32::try_from(id).expect("at most 2^32 connections"),
            written: common.size,
            got: 0,
            in_flight: 0,
            next_recv: 0,
            oldest: InFlight { due: 0, sent: 0 },
            later: None,
            replied: false,
            queued: false,
        }
    }

    /// The number of the next message to send.
    fn next_send(&self) -> u64 {
        self.next_recv + u64::from(self.in_flight)
    }

    /// Whether every message of a churning connection is back.
    pub fn complete(&self, common: &Common) -> bool {
        self.next_recv == common.limit
    }

    /// Starts over on a new socket: message 0 next, nothing in flight or half done.
    pub fn restart(&mut self, common: &Common) {
        self.written = common.size;
        self.got = 0;
        self.next_recv = 0;
        self.in_flight = 0;
        if let Some(later) = &mut self.later {
            later.clear();
        }
    }

    /// Whether part of a message still waits to be written.
    pub fn writing(&self, common: &Common) -> bool {
        self.written < common.size
    }

    /// When the oldest message in flight times out, if one is in flight.
    pub fn deadline(&self, timeout: Nanos) -> Option<Nanos> {
        (self.in_flight > 0).then(|| self.oldest.sent + timeout)
    }

    /// Starts the next message, due at `due` and leaving at `now`, and writes what the socket
    /// takes of it.
    #[inline]
    pub fn send<S: AsFd>(
        &mut self,
        stream: &S,
        common: &mut Common,
        rules: &Rules,
        record: &mut Record,
        due: Nanos,
        now: Nanos,
    ) -> Result<(), Failure> {
        self.start(common, rules, record, due, now);
        self.flush(stream, common)
    }

    /// Puts the next message in flight, due at `due` and leaving at `now`, with nothing of it
    /// written yet.
    #[inline]
    fn start(
        &mut self,
        common: &Common,
        rules: &Rules,
        record: &mut Record,
        due: Nanos,
        now: Nanos,
    ) {
        debug_assert!(!self.writing(common), "one message is written at a time");
        let message = InFlight { due, sent: now };
        if self.in_flight == 0 {
            self.oldest = message;
        } else {
            self.later
                .get_or_insert_with(|| Box::new(VecDeque::with_capacity(MAX_IN_FLIGHT)))
                .push_back(message);
        }
        self.in_flight += 1;
        self.written = 0;
        reply::on_send(record, rules, now);
    }

    /// The oldest message in flight leaves the pipeline (its echo is in).
    fn answered(&mut self) -> Option<InFlight> {
        if self.in_flight == 0 {
            return None;
        }
        let oldest = self.oldest;
        self.in_flight -= 1;
        self.next_recv += 1;
        if self.in_flight > 0 {
            self.oldest = self
                .later
                .as_mut()
                .and_then(|later| later.pop_front())
                .expect("every message in flight after the oldest is queued");
        }
        Some(oldest)
    }

    /// Writes what is left of the current message, until it is all out or the socket is full
    /// (then the loop calls again on the next writable event). The message is made a chunk at a
    /// time, just before it is written: only a chunk the socket did not take is made again.
    #[inline]
    pub fn flush<S: AsFd>(&mut self, stream: &S, common: &mut Common) -> Result<(), Failure> {
        while self.writing(common) {
            let written = self.written as usize;
            let left = common.size as usize - written;
            let chunk = &mut common.out[..left.min(CHUNK)];
            common
                .pattern
                .fill_part(u64::from(self.id), self.next_send() - 1, written, chunk);
            if !write(stream, chunk, &mut self.written)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Open loop: sends every message due by `now` on `schedule` while it can; returns when the
    /// next one is due, or `None` if it must first wait for the socket (a message half written)
    /// or for a reply (the pipeline full). Each message's send instant is read as it leaves.
    pub fn send_due<S: AsFd>(
        &mut self,
        stream: &S,
        common: &mut Common,
        schedule: &Schedule,
        rules: &Rules,
        record: &mut Record,
        now: Nanos,
    ) -> Result<Option<Nanos>, Failure> {
        loop {
            if self.writing(common) || self.in_flight as usize == MAX_IN_FLIGHT {
                return Ok(None);
            }
            let due = schedule.due(self.next_send());
            if due > now {
                return Ok(Some(due));
            }
            // Never early, whatever decided it was time (the tests run debug builds).
            debug_assert!(
                due <= now,
                "a message left {} ns before it was due",
                due - now
            );
            let sent = common.clock.now();
            self.send(stream, common, rules, record, due, sent)?;
        }
    }

    /// Reads what the socket holds, checking each piece as it comes and accounting each
    /// complete echo; in the closed loop each reply sends the next message at once.
    ///
    /// It stops reading as soon as nothing more can be there, rather than asking once more to
    /// hear "would block": after a short read (the socket gave less than was asked, so it is
    /// empty), and in the closed loop after a complete echo (the only message in flight is the
    /// one just sent). Whatever arrives later is a new edge for the event loop. Once the peer
    /// has closed or failed (`closing`), that end may already be in the socket with no edge to
    /// come, so it reads on until it meets it.
    pub fn on_readable<S: AsFd>(
        &mut self,
        stream: &S,
        common: &mut Common,
        rules: &Rules,
        record: &mut Record,
        closing: bool,
    ) -> Result<(), Failure> {
        loop {
            let got = self.got as usize;
            let piece = &mut common.back[..(common.size as usize - got).min(CHUNK)];
            let asked = piece.len();
            match raw::recv(stream, piece) {
                Ok(0) => return Err(Failure::Eof),
                Ok(n) => {
                    if self.in_flight == 0 {
                        record.first_corruption.get_or_insert_with(|| {
                            format!(
                                "client {}: {n} bytes arrived with no message in flight",
                                self.id
                            )
                        });
                        return Err(Failure::Corrupt);
                    }
                    let seq = self.next_recv;
                    // On an echo's last piece the closed loop sends the next message first, and
                    // checks the piece and records the reply after: the time between an echo and
                    // the next send is the client's share of every round trip. A reply still
                    // counts only once every byte of it is checked.
                    let echo = (got + n == common.size as usize).then(|| {
                        self.got = 0;
                        self.on_echo(stream, common, rules, record, got == 0)
                    });
                    let checked =
                        common
                            .pattern
                            .check_part(u64::from(self.id), seq, got, &common.back[..n]);
                    if let Err(mismatch) = checked {
                        record
                            .first_corruption
                            .get_or_insert_with(|| format!("client {}: {mismatch}", self.id));
                        return Err(Failure::Corrupt);
                    }
                    let drained = match echo {
                        Some((message, done, sent)) => {
                            self.replied |= reply::on_reply(record, rules, message, seq, done);
                            sent?;
                            // Closed loop: the one message in flight is the one just sent.
                            !rules.open_loop && self.in_flight > 0
                        }
                        None => {
                            self.got += n as u32;
                            false
                        }
                    };
                    if !closing && (drained || n < asked) {
                        return Ok(());
                    }
                }
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(e) => return Err(Failure::of(&e.into())),
            }
        }
    }

    /// A whole echo is in: the oldest message leaves the pipeline and (closed loop) the next
    /// is sent. Returns the answered message, when its echo completed, and how the send went.
    ///
    /// When the echo came in one read (`whole`: all of it is in the read buffer), the next
    /// message is that echo, restamped: every message of a connection has the same body, so
    /// only the header changes, and making it again would write as many bytes as the message
    /// holds (at 16 KiB, most of the client's own work per round trip). The echo is still
    /// checked byte for byte after (its header put back first); had it been wrong, the message
    /// made from it is wrong too, but the connection fails on the check before anything else.
    fn on_echo<S: AsFd>(
        &mut self,
        stream: &S,
        common: &mut Common,
        rules: &Rules,
        record: &mut Record,
        whole: bool,
    ) -> (Option<InFlight>, Nanos, Result<(), Failure>) {
        let done = common.clock.now();
        let message = self.answered();
        let mut sent = Ok(());
        if !rules.open_loop && self.next_recv < common.limit {
            if whole {
                self.start(common, rules, record, done, done);
                let echo = &mut common.back[..common.size as usize];
                let header = HEADER.min(echo.len());
                let mut seq = [0; HEADER];
                seq[..header].copy_from_slice(&echo[..header]);
                common.pattern.stamp(self.next_send() - 1, echo);
                // What the socket does not take now, flush makes later, as for any message.
                sent = write(stream, echo, &mut self.written).map(drop);
                echo[..header].copy_from_slice(&seq[..header]);
            } else {
                sent = self.send(stream, common, rules, record, done, done);
            }
        }
        (message, done, sent)
    }
}

/// Writes what the socket takes of `buf`, the part of a message from byte `written` on, and
/// counts it in `written`: true when all of it went, false when the socket is full.
#[inline]
fn write<S: AsFd>(stream: &S, buf: &[u8], written: &mut u32) -> Result<bool, Failure> {
    let mut sent = 0;
    while sent < buf.len() {
        match raw::send(stream, &buf[sent..]) {
            Ok(0) => return Err(Failure::Reset),
            Ok(n) => sent += n,
            Err(Errno::AGAIN) => {
                *written += sent as u32;
                return Ok(false);
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(Failure::of(&e.into())),
        }
    }
    *written += sent as u32;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::time::Duration;

    use mio::net::TcpStream;
    use mio::{Events, Interest, Poll, Token};

    /// A client socket (non-blocking, watched by `poll`) and the server's end (blocking, driven
    /// by the test), connected over loopback.
    fn pair(poll: &Poll) -> (TcpStream, StdStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        let mut client = TcpStream::from_std(client);
        poll.registry()
            .register(
                &mut client,
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
            )
            .unwrap();
        (client, server)
    }

    /// A test's clock: it starts now.
    fn clock() -> Clock {
        Clock::start()
    }

    fn measuring() -> Rules {
        Rules {
            // The window opened at the clock's zero, before any message of the test was sent.
            window: Some(0),
            open_loop: false,
            work_every: 1,
        }
    }

    /// Waits (at most 10 s, so a bug cannot hang the suite) for the next readiness event.
    fn wait(poll: &mut Poll, events: &mut Events) {
        poll.poll(events, Some(Duration::from_secs(10))).unwrap();
        assert!(!events.is_empty(), "no readiness within 10 s");
    }

    /// Whether the last turn saw the peer close or fail, as the event loop tells the connection.
    fn closing(events: &Events) -> bool {
        events.iter().any(|e| e.is_read_closed() || e.is_error())
    }

    /// What client `id` sends as message `seq` of `size` bytes.
    fn message(id: u64, seq: u64, size: usize) -> Vec<u8> {
        let mut m = vec![0; size];
        Pattern::new(size, id).fill(seq, &mut m);
        m
    }

    #[test]
    fn a_reply_in_one_byte_pieces_is_assembled_verified_and_counted_once() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (client, mut server) = pair(&poll);
        let (rules, mut record) = (measuring(), Record::new(1, false, false));
        let mut common = Common::new(64, clock());
        let mut conn = Conn::new(7, &common);
        conn.send(&client, &mut common, &rules, &mut record, 1, 1)
            .unwrap();
        let mut got = [0; 64];
        server.read_exact(&mut got).unwrap();
        assert_eq!(got[..], message(7, 0, 64)[..]);
        for (i, byte) in got.iter().enumerate() {
            server.write_all(&[*byte]).unwrap();
            // Wait until this byte has been read, so each read sees exactly one byte.
            while conn.got as usize != (i + 1) % 64 && !(i == 63 && record.messages() == 1) {
                wait(&mut poll, &mut events);
                conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
                    .unwrap();
            }
            assert_eq!(record.messages(), u64::from(i == 63), "after byte {i}");
        }
        assert!(conn.replied);
        // The closed loop sent message 1 the moment message 0 came back.
        server.read_exact(&mut got).unwrap();
        assert_eq!(got[..], message(7, 1, 64)[..]);
    }

    #[test]
    fn the_closed_loop_reads_no_further_than_its_echo_and_a_stray_byte_is_caught_later() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (client, mut server) = pair(&poll);
        let (rules, mut record) = (measuring(), Record::new(1, false, false));
        let mut common = Common::new(64, clock());
        let mut conn = Conn::new(5, &common);
        conn.send(&client, &mut common, &rules, &mut record, 1, 1)
            .unwrap();
        let mut got = [0; 64];
        server.read_exact(&mut got).unwrap();
        // The echo and one byte too many, in one write: both are in the socket at once.
        let mut reply = got.to_vec();
        reply.push(got[0] ^ 0xff);
        server.write_all(&reply).unwrap();
        while record.messages() == 0 {
            wait(&mut poll, &mut events);
            conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
                .expect("the stray byte is not read with the echo it follows");
        }
        // The next message went out on the echo; its echo brings the stray byte to light.
        server.read_exact(&mut got).unwrap();
        assert_eq!(got[..], message(5, 1, 64)[..]);
        server.write_all(&got).unwrap();
        let failure = loop {
            wait(&mut poll, &mut events);
            if let Err(f) =
                conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
            {
                break f;
            }
        };
        assert_eq!(failure, Failure::Corrupt);
        assert_eq!(
            record.messages(),
            1,
            "the echo before the stray byte counts"
        );
    }

    /// Sends message 0 on a new connection `id` of `size` bytes, answers it with `reply` (written
    /// at once), and drives the client until the reply counts or fails; returns the failure, if
    /// any, and what the client sent next (message 1, unless it failed first).
    fn answer(
        id: u64,
        size: usize,
        reply: impl FnOnce(&mut [u8]),
    ) -> (Result<(), Failure>, Record, Option<Vec<u8>>) {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (client, mut server) = pair(&poll);
        let (rules, mut record) = (measuring(), Record::new(1, false, false));
        let mut common = Common::new(size, clock());
        let mut conn = Conn::new(id, &common);
        conn.send(&client, &mut common, &rules, &mut record, 1, 1)
            .unwrap();
        let mut got = vec![0; size];
        server.read_exact(&mut got).unwrap();
        reply(&mut got);
        server.write_all(&got).unwrap();
        let result = loop {
            wait(&mut poll, &mut events);
            match conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events)) {
                Ok(()) if record.messages() == 0 => continue,
                result => break result,
            }
        };
        // Whatever the client sent before its verdict: the next message, or nothing.
        let next = (conn.next_send() == 2).then(|| {
            let mut next = vec![0; size];
            while conn.writing(&common) {
                conn.flush(&client, &mut common).unwrap();
            }
            server.read_exact(&mut next).unwrap();
            next
        });
        (result, record, next)
    }

    #[test]
    fn an_echo_sent_on_as_the_next_message_is_still_checked_byte_for_byte() {
        // 64 B arrive in one read (the path that restamps the echo), 16 KiB in one or several.
        for size in [64, 16 << 10] {
            let (result, record, next) = answer(2, size, |_| {});
            assert_eq!(result, Ok(()), "{size} B");
            assert_eq!(record.messages(), 1);
            assert_eq!(next.unwrap(), message(2, 1, size), "{size} B: message 1");
            let mut corrupt = message(2, 0, size);
            corrupt[size - 1] ^= 1;
            let wrong = [
                ("corrupt", corrupt, format!("byte {} ", size - 1)),
                (
                    "another connection's",
                    message(3, 0, size),
                    "byte 8 ".into(),
                ),
                (
                    "a repeated (or early)",
                    message(2, 1, size),
                    "byte 0 ".into(),
                ),
            ];
            for (what, reply, at) in wrong {
                let (result, record, _) = answer(2, size, |m| m.copy_from_slice(&reply));
                assert_eq!(result, Err(Failure::Corrupt), "{size} B: {what} echo");
                assert_eq!(record.messages(), 0, "{size} B: {what} echo counted");
                let report = record.first_corruption.unwrap();
                assert!(report.contains(&at), "{size} B: {what}: {report}");
            }
        }
    }

    #[test]
    fn a_message_larger_than_the_socket_buffers_is_written_and_read_interleaved() {
        const SIZE: usize = 1 << 20;
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (client, server) = pair(&poll);
        // Small buffers on both ends: together they hold far less than one message.
        for end in [
            socket2::SockRef::from(&client),
            socket2::SockRef::from(&server),
        ] {
            end.set_send_buffer_size(64 << 10).unwrap();
            end.set_recv_buffer_size(64 << 10).unwrap();
        }
        // The server echoes in small pieces as it reads: it cannot read more until the client
        // reads, so a client that only wrote, or only read, would deadlock.
        let echo = std::thread::spawn(move || {
            let (mut rx, mut tx) = (&server, &server);
            let mut buf = [0; 4096];
            let mut total = 0;
            // Until the client closes (it may close mid-message: then a write fails).
            while let Ok(n @ 1..) = rx.read(&mut buf) {
                if tx.write_all(&buf[..n]).is_err() {
                    break;
                }
                total += n;
            }
            total
        });
        let (rules, mut record) = (measuring(), Record::new(1, false, false));
        let mut common = Common::new(SIZE, clock());
        let mut conn = Conn::new(1, &common);
        conn.send(&client, &mut common, &rules, &mut record, 1, 1)
            .unwrap();
        assert!(
            conn.writing(&common),
            "1 MiB does not fit the socket at once: a partial write"
        );
        let mut turns = 0;
        while record.messages() < 2 {
            turns += 1;
            assert!(turns < 100_000, "no progress");
            wait(&mut poll, &mut events);
            conn.flush(&client, &mut common).unwrap();
            conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
                .unwrap();
        }
        // Two whole round trips; the third message is under way. Stop it by closing.
        drop(client);
        assert!(echo.join().unwrap() >= 2 * SIZE);
        assert_eq!(record.errors.total(), 0);
    }

    #[test]
    fn a_reset_mid_echo_is_a_reset() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (client, mut server) = pair(&poll);
        let (rules, mut record) = (measuring(), Record::new(1, false, false));
        let mut common = Common::new(64, clock());
        let mut conn = Conn::new(3, &common);
        conn.send(&client, &mut common, &rules, &mut record, 1, 1)
            .unwrap();
        let mut got = [0; 64];
        server.read_exact(&mut got).unwrap();
        server.write_all(&got[..10]).unwrap();
        while conn.got < 10 {
            wait(&mut poll, &mut events);
            conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
                .unwrap();
        }
        // Linger 0: closing sends a reset rather than a clean end.
        socket2::SockRef::from(&server)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(server);
        let failure = loop {
            wait(&mut poll, &mut events);
            if let Err(f) =
                conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
            {
                break f;
            }
        };
        assert_eq!(failure, Failure::Reset);
        assert_eq!(record.messages(), 0);
    }

    #[test]
    fn a_clean_close_mid_echo_is_an_eof_and_a_wrong_byte_is_corrupt() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let (rules, mut record) = (measuring(), Record::new(1, false, false));
        for (cut, expected) in [(10, Failure::Eof), (64, Failure::Corrupt)] {
            let (mut client, mut server) = pair(&poll);
            let mut common = Common::new(64, clock());
            let mut conn = Conn::new(3, &common);
            conn.send(&client, &mut common, &rules, &mut record, 1, 1)
                .unwrap();
            let mut got = [0; 64];
            server.read_exact(&mut got).unwrap();
            got[63] ^= 1;
            server.write_all(&got[..cut]).unwrap();
            drop(server);
            let failure = loop {
                wait(&mut poll, &mut events);
                if let Err(f) =
                    conn.on_readable(&client, &mut common, &rules, &mut record, closing(&events))
                {
                    break f;
                }
            };
            assert_eq!(failure, expected);
            poll.registry().deregister(&mut client).unwrap();
        }
        // The corrupt echo's last byte came in the piece that completed it, after which the
        // next message leaves before the piece is checked: the reply must still not count.
        assert_eq!(record.messages(), 0, "a corrupt echo was counted");
        assert!(record.first_corruption.unwrap().contains("byte 63"));
    }

    #[test]
    fn the_oldest_message_in_flight_sets_the_deadline() {
        let mut poll = Poll::new().unwrap();
        let (client, _server) = pair(&poll);
        let (rules, mut record) = (measuring(), Record::new(1, true, false));
        let clock = clock();
        let timeout = 2_000_000_000;
        let schedule = Schedule::new(0, 1000.0, 0);
        let mut common = Common::new(64, clock);
        let mut conn = Conn::new(0, &common);
        assert_eq!(
            conn.deadline(timeout),
            None,
            "nothing in flight: no deadline"
        );
        // Three messages due by 2 ms: all leave now, the next is due at 3 ms.
        let next = conn
            .send_due(
                &client,
                &mut common,
                &schedule,
                &rules,
                &mut record,
                2_000_000,
            )
            .unwrap();
        assert_eq!(next, Some(schedule.due(3)));
        assert_eq!(conn.in_flight, 3);
        let first_sent = conn.oldest.sent;
        assert_eq!(conn.deadline(timeout), Some(first_sent + timeout));
        assert_eq!(record.sent, 3, "sent in the window");
        // Echoes come back oldest first: the pipeline gives the messages back in order.
        let due: Vec<Nanos> = std::iter::from_fn(|| conn.answered())
            .map(|m| m.due)
            .collect();
        assert_eq!(due, [schedule.due(0), schedule.due(1), schedule.due(2)]);
        assert_eq!((conn.next_recv, conn.deadline(timeout)), (3, None));
        let _ = poll.poll(&mut Events::with_capacity(1), Some(Duration::ZERO));
    }
}

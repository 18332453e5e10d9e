//! The client engine against servers that misbehave on purpose: each test runs the real loadgen
//! binary against a small server of its own on 127.0.0.1 and checks what the result says. These
//! pin the bookkeeping a wrong number would come from: which error kind, which clients starved,
//! whether a corrupt echo is caught in both loops. Durations are hang guards and short windows,
//! never assertions.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use echo_report::TargetResult;
use serde_json::Value;

use support::{HANG_GUARD, finish};

/// Bytes per message in these tests.
const SIZE: usize = 64;

/// Clients per run: a few, so a rule that holds for each is seen to hold for all.
const CLIENTS: u64 = 4;

/// What a test server does with each connection.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    /// Echoes every byte.
    Echo,
    /// Reads, never answers.
    Silent,
    /// Echoes the first message, then reads and never answers again.
    EchoOneThenSilent,
    /// Echoes the first message after 50 ms, then reads and never answers again.
    EchoOneLateThenSilent,
    /// Echoes one message, then resets the connection.
    ResetAfterOne,
    /// Echoes half of the first message, then closes cleanly.
    CloseMidEcho,
    /// Echoes, flipping one bit of the 100th byte.
    Corrupt,
    /// Echoes each message in two pieces, [`PIECE_GAP`] apart so that they arrive in two
    /// reads, flipping one bit in the second.
    CorruptSecondPiece,
}

/// The pause between the two pieces of a [`Behaviour::CorruptSecondPiece`] echo: long enough
/// for the client to read the first piece on its own (a client that reads both at once still
/// sees the flipped bit, so the test's outcome does not depend on it).
const PIECE_GAP: Duration = Duration::from_millis(20);

/// A server on 127.0.0.1 that treats every connection as `behaviour` says.
fn server(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || serve(stream, behaviour));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let _ = stream.set_read_timeout(Some(HANG_GUARD));
    let mut buf = [0; SIZE];
    match behaviour {
        Behaviour::Echo | Behaviour::Corrupt => {
            let mut echoed = 0usize;
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if matches!(behaviour, Behaviour::Corrupt) && (echoed..echoed + n).contains(&100) {
                    buf[100 - echoed] ^= 1;
                }
                echoed += n;
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
        Behaviour::CorruptSecondPiece => {
            let _ = stream.set_nodelay(true);
            while stream.read_exact(&mut buf).is_ok() {
                let (first, second) = buf.split_at_mut(SIZE / 2);
                second[SIZE / 4] ^= 1;
                if stream.write_all(first).is_err() {
                    return;
                }
                std::thread::sleep(PIECE_GAP);
                if stream.write_all(second).is_err() {
                    return;
                }
            }
        }
        Behaviour::Silent => while let Ok(1..) = stream.read(&mut buf) {},
        Behaviour::EchoOneThenSilent | Behaviour::EchoOneLateThenSilent => {
            if stream.read_exact(&mut buf).is_ok() {
                if behaviour == Behaviour::EchoOneLateThenSilent {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if stream.write_all(&buf).is_ok() {
                    while let Ok(1..) = stream.read(&mut buf) {}
                }
            }
        }
        Behaviour::ResetAfterOne => {
            if stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {
                // Linger 0: closing sends a reset rather than a clean end.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
        }
        Behaviour::CloseMidEcho => {
            if stream.read_exact(&mut buf).is_ok() {
                let _ = stream.write_all(&buf[..SIZE / 2]);
            }
        }
    }
}

/// loadgen against `addr`: a short run, JSON on stdout, no files.
fn loadgen(addr: SocketAddr, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args([
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--no-save",
        "--json",
    ])
    .args(["--addr", &addr.to_string()])
    .args(["--clients", &CLIENTS.to_string()])
    .args(["--msg-size", &SIZE.to_string()])
    .args(extra)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd`; returns its exit code, stderr, and the one target's result.
fn run(cmd: &mut Command) -> (Option<i32>, String, TargetResult) {
    let out = finish(cmd.spawn().expect("loadgen starts"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}); stderr: {stderr}"));
    let t = serde_json::from_value(v["targets"][0].clone()).unwrap();
    (out.status.code(), stderr, t)
}

#[test]
fn both_loops_reply_from_every_client_of_an_echo_server() {
    let addr = server(Behaviour::Echo);
    for extra in [&[][..], &["--rate", "400"][..]] {
        let (code, stderr, t) = run(&mut loadgen(addr, extra));
        assert_eq!(code, Some(0), "{extra:?}: {stderr}");
        assert_eq!(
            t.starved_clients,
            Some(0),
            "{extra:?}: every client replied"
        );
        assert_eq!(t.errors.total(), 0, "{extra:?}");
        assert!(t.messages > 0);
    }
}

#[test]
fn a_dense_open_loop_never_sends_a_message_before_it_is_due() {
    // Messages due every 50 µs in all, each thread awake on replies in between: a sender that
    // took "due within the pacer's minimum sleep" for due would send early here. The engine
    // asserts, in the debug builds tests run, that no message leaves before its due time;
    // a client thread that panics fails the run.
    let (code, stderr, t) = run(&mut loadgen(server(Behaviour::Echo), &["--rate", "20000"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("before it was due"), "{stderr}");
    assert_eq!(t.errors.total(), 0, "{stderr}");
    assert!(t.messages > 0);
}

#[test]
fn the_open_loop_catches_a_corrupt_echo_on_every_client() {
    let (code, stderr, t) = run(&mut loadgen(server(Behaviour::Corrupt), &["--rate", "400"]));
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(t.errors.corrupt, CLIENTS, "{stderr}");
    assert!(stderr.contains("CORRUPT ECHO"), "{stderr}");
}

#[test]
fn both_loops_catch_a_corrupt_byte_in_a_later_piece_of_an_echo() {
    let addr = server(Behaviour::CorruptSecondPiece);
    for extra in [&[][..], &["--rate", "400"][..]] {
        let (code, stderr, t) = run(&mut loadgen(addr, extra));
        assert_eq!(code, Some(3), "{extra:?}: {stderr}");
        assert_eq!(t.errors.corrupt, CLIENTS, "{extra:?}: {stderr}");
        assert!(stderr.contains("CORRUPT ECHO"), "{stderr}");
    }
}

#[test]
fn a_reset_after_one_echo_is_a_reset_on_every_client_and_never_an_eof() {
    for extra in [&[][..], &["--rate", "400"][..]] {
        let (code, stderr, t) = run(&mut loadgen(server(Behaviour::ResetAfterOne), extra));
        assert_eq!(code, Some(1), "{extra:?}: {stderr}");
        assert_eq!(
            (t.errors.reset, t.errors.eof),
            (CLIENTS, 0),
            "{extra:?}: {stderr}"
        );
        assert_eq!(t.errors.total(), CLIENTS);
    }
}

#[test]
fn a_clean_close_mid_echo_is_an_eof_on_every_client() {
    for extra in [&[][..], &["--rate", "400"][..]] {
        let (code, stderr, t) = run(&mut loadgen(server(Behaviour::CloseMidEcho), extra));
        assert_eq!(code, Some(1), "{extra:?}: {stderr}");
        assert_eq!(
            (t.errors.eof, t.errors.reset),
            (CLIENTS, 0),
            "{extra:?}: {stderr}"
        );
    }
}

#[test]
fn a_server_that_never_answers_measures_nothing_and_says_so() {
    // A timeout longer than the run: the clients starve rather than fail.
    let (code, stderr, t) = run(&mut loadgen(
        server(Behaviour::Silent),
        &["--timeout", "60s"],
    ));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing was measured") && stderr.contains("starved"),
        "{stderr}"
    );
    assert_eq!((t.messages, t.starved_clients), (0, Some(CLIENTS as usize)));
    assert_eq!(t.errors.total(), 0);
}

#[test]
fn a_reply_in_the_warm_up_does_not_make_a_client_one_that_replied() {
    // The first message leaves as the warm-up starts and its echo is back in microseconds; the
    // warm-up lasts a second. After it, nothing.
    for extra in [&[][..], &["--rate", "400"][..]] {
        let mut cmd = loadgen(server(Behaviour::EchoOneThenSilent), extra);
        let (code, stderr, t) = run(cmd.args(["--warmup", "1s", "--timeout", "60s"]));
        assert_eq!(code, Some(1), "{extra:?}: {stderr}");
        assert_eq!(t.messages, 0, "{extra:?}");
        assert_eq!(
            t.starved_clients,
            Some(CLIENTS as usize),
            "{extra:?}: {stderr}"
        );
    }
}

#[test]
fn a_message_larger_than_the_socket_buffers_goes_round() {
    // 16 MiB: more than loopback's socket buffers hold, so each message is written in parts as
    // the echo is read (the open loop writes through the same state machine).
    let mut cmd = loadgen(server(Behaviour::Echo), &[]);
    let (code, stderr, t) = run(cmd.args(["--msg-size", "16777216", "--clients", "2"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(t.errors.total(), 0);
    assert!(t.messages > 0 && t.starved_clients == Some(0));
}

#[test]
fn a_message_that_times_out_is_a_timeout_on_every_client() {
    // The first message, or the second: the first echoed 50 ms late leaves the deadline stored
    // for it behind the second's by the time it passes, and the loop must renew it, not lose it.
    for behaviour in [Behaviour::Silent, Behaviour::EchoOneLateThenSilent] {
        let (code, stderr, t) = run(&mut loadgen(
            server(behaviour),
            &["--timeout", "300ms", "--warmup", "0s"],
        ));
        assert_eq!(code, Some(1), "{behaviour:?}: {stderr}");
        assert_eq!(t.errors.timeout, CLIENTS, "{behaviour:?}: {stderr}");
    }
}

#[test]
fn ctrl_c_before_the_window_opens_leaves_an_empty_result_marked_as_such() {
    let addr = server(Behaviour::Echo);
    let mut child = loadgen(addr, &["--warmup", "60s"]).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("warm-up") {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ended early: {seen}"
        );
        seen += &line;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(130), "{rest}");
    assert!(rest.contains("nothing was measured"), "{rest}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t: TargetResult = serde_json::from_value(v["targets"][0].clone()).unwrap();
    assert!(t.partial);
    assert_eq!((t.window_ns, t.messages), (0, 0));
}

//! The conformance suite: one set of behaviours, written once, that every server in
//! [`echo_targets::every`] must show, over real sockets on 127.0.0.1. The program targets
//! (Python, Go, Node.js) run as child processes throughout, and are skipped, with a line on the
//! terminal saying why, when what they need is missing (`scripts/setup.sh`; CI runs it).
//!
//! Each behaviour is a function taking the target; [`conformance!`] turns every (target,
//! behaviour) pair into its own test, named `<target>::<behaviour>`, so a failure names both.
//! Servers run in this process ([`InProcess`]) unless a test needs the process's own view — its
//! exit, its sockets, its memory or its threads — and then as a child `echo-server`
//! ([`Process`]).
//!
//! The `blocking` target serves one connection at a time by design (`Serves::OneAtATime`).
//! Where a behaviour needs two clients served at once, the suite asserts that documented
//! behaviour for it instead: the second client is not served while the first stays connected,
//! and is served in full once the first leaves. Likewise a server with a fixed pool of workers
//! (`Target::pool`) is shown to serve as many clients at once as it has workers, and no more.
//!
//! Nothing here asserts a duration or a rate: timeouts only stop a broken server from hanging a
//! test, waits are on conditions (a thread's state, a socket's queues, a counter), and where time
//! appears in an assertion it is a relation measured in the same run.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::thread;
use std::time::{Duration, Instant};

use echo_common::pattern::Pattern;
use echo_common::{LAG_PERIOD, LagSummary, Target};
use nix::sys::signal::Signal;
use support::{
    Client, HANG_GUARD, InProcess, Process, SocketKind, TICKER_THREAD, eventually,
    wait_until_read_by_server,
};

/// One test per target and behaviour, in a module per target.
macro_rules! conformance {
    (targets { $($module:ident: $name:literal),* $(,)? } behaviours $behaviours:tt) => {
        /// The targets this file generates tests for.
        const TESTED: &[&str] = &[$($name),*];
        $(
            mod $module {
                conformance!(@behaviours $name $behaviours);
            }
        )*
    };
    (@behaviours $name:literal { $($behaviour:ident),* $(,)? }) => {
        $(
            #[test]
            fn $behaviour() {
                if let Some(target) = super::support::runnable($name) {
                    super::$behaviour(target);
                }
            }
        )*
    };
}

conformance! {
    targets {
        threads: "threads",
        blocking: "blocking",
        thread_pool: "thread-pool",
        tokio: "tokio",
        tokio_current: "tokio-current",
        async_std: "async-std",
        smol: "smol",
        mio: "mio",
        monoio: "monoio",
        compio: "compio",
        python_asyncio: "python-asyncio",
        python_uvloop: "python-uvloop",
        python_threads: "python-threads",
        python_gevent: "python-gevent",
        go: "go",
        node: "node",
    }
    behaviours {
        echoes_every_byte_of_every_size,
        serves_200_clients_at_once,
        half_close_gets_the_rest_of_the_echo_then_eof,
        a_client_reset_mid_message_disturbs_no_one,
        a_client_that_never_reads_is_held_back_not_buffered,
        a_dribbling_client_is_echoed_byte_by_byte,
        survives_2000_connects_and_disconnects,
        leaves_no_sockets_and_sits_idle_once_clients_are_gone,
        sigint_stops_it_with_connections_open,
        sigterm_stops_it_with_connections_open,
        a_second_signal_ends_it_at_once_while_a_message_works,
        turns_away_connections_over_the_cap,
        block_work_shows_as_loop_lag,
        keeps_answering_while_a_message_sleeps,
        keeps_answering_while_a_message_is_offloaded,
        does_every_work_kind_or_refuses_it_in_one_line,
    }
}

#[test]
fn every_registered_target_is_tested() {
    let registered: Vec<&str> = echo_targets::every().map(|t| t.name).collect();
    assert_eq!(
        registered, TESTED,
        "add the new target to the `conformance!` list"
    );
}

// ---------------------------------------------------------------------------------------------
// Echo

/// Message sizes from one byte to 1 MiB: odd sizes, sizes around the server's 16 KiB buffer
/// (65537 = four buffers and a byte), and one far larger than any socket buffer.
const SIZES: [usize; 7] = [1, 7, 64, 4096, 16 * 1024 + 1, 65537, 1 << 20];

fn echoes_every_byte_of_every_size(target: &'static Target) {
    let server = InProcess::start(target);
    let mut client = Client::connect(server.addr());
    let mut sent = 0;
    for size in SIZES {
        // Two of each, back to back, so the second's bytes follow the first's without a gap.
        client.echo(size, 2);
        sent += 2 * size as u64;
    }
    drop(client);
    eventually("the server sees the client leave", || {
        match server.active() {
            0 => Ok(()),
            n => Err(n),
        }
    });
    let summary = server.stop();
    assert_eq!(
        summary.bytes_echoed, sent,
        "every byte is counted as echoed"
    );
    assert_eq!(
        (summary.accepted, summary.closed, summary.errors),
        (1, 1, 0)
    );
}

fn serves_200_clients_at_once(target: &'static Target) {
    const CLIENTS: usize = 200;
    const SIZE: usize = 1000;
    let server = InProcess::start(target);
    // The pool a server started with the default configuration has.
    let pool = target.pool(&echo_common::Config::on(server.addr()));
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| Client::connect(server.addr()))
        .collect();
    if target.one_at_a_time() {
        // Every client sends at once; the server takes them in turn, each once the one before it
        // has gone, and never a second while the first stays.
        for client in &mut clients {
            client.send(SIZE);
        }
        clients[0].expect_echo();
        clients[1].assert_not_served();
        for mut client in clients.drain(..) {
            client.expect_echo();
            client.echo(SIZE, 1);
            assert_eq!(server.active(), 1, "one connection at a time");
        }
    } else if let Some(workers) = pool.filter(|&workers| workers < CLIENTS) {
        // A pool accepts every client but serves `workers` at once; each of the rest is taken
        // by the first worker to come free, in the order they came.
        eventually("all 200 connections are accepted", || {
            match server.active() {
                CLIENTS => Ok(()),
                n => Err(n),
            }
        });
        for client in &mut clients {
            client.send(SIZE);
        }
        for client in &mut clients[..workers] {
            client.expect_echo();
        }
        clients[workers].assert_not_served();
        for mut client in clients.drain(..) {
            client.expect_echo();
            client.echo(SIZE, 1);
        }
    } else {
        eventually("all 200 connections are open at once", || {
            match server.active() {
                CLIENTS => Ok(()),
                n => Err(n),
            }
        });
        // Two rounds in which every client has a message in flight at the same time.
        for _ in 0..2 {
            for client in &mut clients {
                client.send(SIZE);
            }
            for client in &mut clients {
                client.expect_echo();
            }
        }
        clients.clear();
    }
    eventually("every client's connection is closed", || {
        match server.active() {
            0 => Ok(()),
            n => Err(n),
        }
    });
    let summary = server.stop();
    assert_eq!(summary.accepted, CLIENTS as u64);
    assert_eq!(summary.closed, CLIENTS as u64);
    assert_eq!(summary.bytes_echoed, (CLIENTS * 2 * SIZE) as u64);
    assert_eq!(summary.errors, 0);
}

fn half_close_gets_the_rest_of_the_echo_then_eof(target: &'static Target) {
    // More than the socket buffers hold, so most of the echo is still to come when the client
    // shuts its write side; a reader thread takes it meanwhile.
    const SIZE: usize = 3 << 20;
    let server = InProcess::start(target);
    let mut client = Client::connect(server.addr());
    let (seq, message) = client.next_message(SIZE);
    let mut reader = client.try_clone_for_reading();
    let echoed = thread::scope(|scope| {
        let reading = scope.spawn(move || reader.read_to_eof());
        client.write_raw(&message);
        client.half_close();
        reading.join().expect("reader")
    });
    assert_eq!(
        echoed.len(),
        SIZE,
        "the whole echo arrives before end-of-file"
    );
    Pattern::new(SIZE, client.id())
        .check(seq, &echoed)
        .unwrap_or_else(|m| panic!("{m}"));
    let summary = server.stop();
    assert_eq!((summary.closed, summary.errors), (1, 0));
}

fn a_client_reset_mid_message_disturbs_no_one(target: &'static Target) {
    let server = InProcess::start(target);
    let addr = server.addr();
    // The resetter starts a 1 MiB message and never reads its echo, so the server is left
    // writing to it (or waiting for the rest) when it resets.
    let mut resetter = Client::connect(addr);
    let written = resetter.write_until_stalled((1 << 20) - 1, Duration::from_millis(200));
    assert!(written > 0);
    let mut before = Client::connect(addr);
    if !target.one_at_a_time() {
        before.echo(4096, 1);
    }
    resetter.reset();
    before.echo(65537, 2);
    drop(before);
    let mut after = Client::connect(addr);
    after.echo(65537, 2);
    drop(after);
    eventually("every connection is closed", || match server.active() {
        0 => Ok(()),
        n => Err(n),
    });
    let summary = server.stop();
    assert_eq!((summary.accepted, summary.closed), (3, 3));
    assert_eq!(
        (summary.resets_by_peer, summary.errors),
        (1, 0),
        "the reset ends its own connection, and no other, and is the peer's doing, not a server \
         error"
    );
}

fn a_client_that_never_reads_is_held_back_not_buffered(target: &'static Target) {
    /// What the client tries to send without reading a byte of the echo.
    const ATTEMPT: usize = 256 << 20;
    /// What the kernel may hold for a stalled connection: the server's receive and send buffers
    /// at their largest (tcp_rmem and tcp_wmem allow up to 32 + 4 MiB) and the client's, here
    /// locked at 64 KiB. A server that kept reading would go far beyond it.
    const HELD_IN_FLIGHT: usize = 64 << 20;
    /// How much the server's own memory may grow while the client is stalled.
    const RSS_GROWTH: u64 = 16 << 20;

    let server = Process::start(target, &[]);
    // A first client, so the server's memory has grown to serving size before the baseline.
    Client::connect(server.addr()).echo(64 * 1024, 4);
    let rss_before = server.rss();

    let mut hog = Client::connect_with_buffers(server.addr(), 64 * 1024);
    let written = hog.write_until_stalled(ATTEMPT, Duration::from_millis(500));
    assert!(
        written < HELD_IN_FLIGHT,
        "the server took {written} B from a client that reads nothing: it keeps reading what it \
         cannot send"
    );
    let rss_stalled = server.rss();
    assert!(
        rss_stalled < rss_before + RSS_GROWTH,
        "the server's memory grew from {rss_before} B to {rss_stalled} B while the client was \
         stalled after {written} B"
    );

    let mut bystander = Client::connect(server.addr());
    if target.one_at_a_time() {
        bystander.send(64);
        bystander.assert_not_served();
        drop(hog);
        bystander.expect_echo();
    } else {
        bystander.echo(4096, 3);
        drop(hog);
        bystander.echo(4096, 1);
    }
    drop(bystander);
    let summary = server.stop();
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.closed, 3);
}

fn a_dribbling_client_is_echoed_byte_by_byte(target: &'static Target) {
    const SIZE: usize = 100;
    let server = InProcess::start(target);
    let mut dribbler = Client::connect(server.addr());
    let (seq, message) = dribbler.next_message(SIZE);
    let mut echoed = Vec::new();
    for (i, &byte) in message.iter().enumerate() {
        dribbler.write_raw(&[byte]);
        // Each byte comes back on its own: the server does not wait for a fuller buffer.
        echoed.extend(dribbler.read_raw(1));
        if i == SIZE / 2 && !target.one_at_a_time() {
            // Halfway through the dribbler's message, someone else is served in full.
            Client::connect(server.addr()).echo(4096, 2);
        }
    }
    Pattern::new(SIZE, dribbler.id())
        .check(seq, &echoed)
        .unwrap_or_else(|m| panic!("{m}"));
    if target.one_at_a_time() {
        let mut bystander = Client::connect(server.addr());
        bystander.send(64);
        bystander.assert_not_served();
        drop(dribbler);
        bystander.expect_echo();
    }
}

fn survives_2000_connects_and_disconnects(target: &'static Target) {
    const CHURN: u64 = 2000;
    let server = InProcess::start(target);
    let mut bytes = 0;
    for i in 0..CHURN {
        let mut client = Client::connect(server.addr());
        // Most leave without a word; every 100th has an echo first.
        if i % 100 == 0 {
            client.echo(64, 1);
            bytes += 64;
        }
    }
    let mut last = Client::connect(server.addr());
    last.echo(4096, 1);
    bytes += 4096;
    drop(last);
    // The last client was served, so every earlier one was accepted before it.
    eventually("the server has closed every connection", || {
        match server.active() {
            0 => Ok(()),
            n => Err(n),
        }
    });
    let summary = server.stop();
    assert_eq!(summary.accepted, CHURN + 1);
    assert_eq!(summary.closed, summary.accepted);
    assert_eq!(summary.refused, 0);
    assert_eq!(summary.errors, 0);
    assert_eq!(summary.bytes_echoed, bytes);
}

// ---------------------------------------------------------------------------------------------
// The process: its sockets, CPU, signals and limits

fn leaves_no_sockets_and_sits_idle_once_clients_are_gone(target: &'static Target) {
    let server = Process::start(target, &[]);
    let addr = server.addr();
    let at_start = server.sockets();
    let listeners = at_start
        .iter()
        .filter(|s| s.kind == SocketKind::TcpListener)
        .count();
    assert!(
        listeners >= 1,
        "the listener is among its sockets: {at_start:?}"
    );
    assert!(
        at_start
            .iter()
            .all(|s| matches!(s.kind, SocketKind::TcpListener | SocketKind::Unix)),
        "no connection before any client: {at_start:?}"
    );

    // Every way a client can leave, one after the other.
    Client::connect(addr).echo(4096, 3);
    drop(Client::connect(addr));
    let mut half = Client::connect(addr);
    half.send(64);
    half.half_close();
    assert_eq!(half.read_to_eof().len(), 64);
    drop(half);
    let mut resetter = Client::connect(addr);
    resetter.write_until_stalled(1 << 20, Duration::from_millis(200));
    resetter.reset();
    let mut hog = Client::connect_with_buffers(addr, 64 * 1024);
    hog.write_until_stalled(64 << 20, Duration::from_millis(300));
    drop(hog);
    let mut quitter = Client::connect(addr);
    quitter.write_raw(&[1, 2, 3]);
    quitter.read_raw(3);
    drop(quitter);
    let mut impatient = Client::connect(addr);
    impatient.write_raw(&[7; 32 * 1024]);
    drop(impatient);
    // The last client is served, so every earlier one was dealt with, even one at a time.
    Client::connect(addr).echo(64, 1);

    let sockets = eventually("only the sockets it started with are left", || {
        let now = server.sockets();
        if now.len() == at_start.len()
            && now
                .iter()
                .all(|s| matches!(s.kind, SocketKind::TcpListener | SocketKind::Unix))
        {
            Ok(now)
        } else {
            Err(now)
        }
    });
    assert_eq!(
        sockets
            .iter()
            .filter(|s| s.kind == SocketKind::TcpListener)
            .count(),
        listeners
    );

    // Idle again: every thread asleep in the kernel at the same moment. A loop spinning on a
    // dead connection never sleeps, so it never is; the lag ticker, which wakes every
    // period by design, is left out.
    eventually("every thread but the lag ticker is asleep at once", || {
        let threads = server.threads();
        if threads
            .iter()
            .all(|t| t.name == TICKER_THREAD || t.state == 'S')
        {
            Ok(())
        } else {
            Err(threads)
        }
    });
    let summary = server.stop();
    assert_eq!(summary.accepted, 8);
    assert_eq!(summary.closed, 8);
    assert_eq!(
        summary.errors, 0,
        "however a client leaves, it is not the server's failure: {summary:?}"
    );
}

fn sigint_stops_it_with_connections_open(target: &'static Target) {
    stops_on(target, Signal::SIGINT);
}

fn sigterm_stops_it_with_connections_open(target: &'static Target) {
    stops_on(target, Signal::SIGTERM);
}

fn stops_on(target: &'static Target, signal: Signal) {
    let mut server = Process::start(target, &[]);
    // One client idle after an echo, one halfway through a message.
    let mut idle = Client::connect(server.addr());
    idle.echo(64, 1);
    let mut midway = Client::connect(server.addr());
    let (_, message) = midway.next_message(4096);
    midway.write_raw(&message[..1000]);
    if !target.one_at_a_time() {
        assert_eq!(midway.read_raw(1000), message[..1000]);
    }

    server.signal(signal);
    let (status, summary) = server.wait_for_exit();
    assert_eq!(status.code(), Some(0), "exit status after {signal}");
    assert!(
        !server.stderr().contains("exiting anyway"),
        "it closed its connections itself, without the watchdog: {}",
        server.stderr()
    );
    assert_eq!(summary.target, target.name);
    // A one-at-a-time server never accepted the second client, which waited in its queue.
    let served = if target.one_at_a_time() { 1 } else { 2 };
    assert_eq!(summary.accepted, served);
    assert_eq!(summary.closed, served, "every open connection was closed");
    idle.assert_closed_by_server();
    midway.assert_closed_by_server();
}

/// A second SIGTERM ends the server at once, with status 128 + the signal, for a user who will not
/// wait: here while a message is still in work the first signal's shutdown waits for (until the
/// server's own watchdog gives up, 5 s on). A runtime that cancels the work on the first signal
/// (asyncio) has nothing left to wait for and ends by itself, with its summary: so may it.
fn a_second_signal_ends_it_at_once_while_a_message_works(target: &'static Target) {
    let work = format!("sleep:{}ms", (HANG_GUARD * 2).as_millis());
    let mut server = Process::start(target, &["--work", &work, "--work-every", "2"]);
    let mut client = Client::connect(server.addr());
    client.echo(MSG, 1);
    client.send(MSG);
    eventually("the server reads the message that works", || {
        match server.unread() {
            0 => Ok(()),
            n => Err(n),
        }
    });
    server.signal(Signal::SIGTERM);
    // The first signal is in once the server has closed the connection (Go's cuts the work short
    // and echoes the message first).
    client.read_until_closed();
    if !server.exited() {
        server.signal(Signal::SIGTERM);
    }
    let status = server.wait_for_status();
    let stderr = server.stderr();
    // Either its handler exits with 128 + the signal, or (past the point where a runtime gives
    // the signal back to the system, as asyncio does when its loop closes) the signal kills it.
    let at_once = status.code() == Some(128 + Signal::SIGTERM as i32)
        || status.signal() == Some(Signal::SIGTERM as i32);
    let by_itself = status.success() && !stderr.contains("exiting anyway");
    assert!(
        at_once || by_itself,
        "exit status {status} after a second SIGTERM; stderr: {stderr}"
    );
}

fn turns_away_connections_over_the_cap(target: &'static Target) {
    let server = Process::start(target, &["--max-connections", "2"]);
    let addr = server.addr();
    let mut first = Client::connect(addr);
    first.echo(64, 1);
    let mut second = Client::connect(addr);
    if target.one_at_a_time() {
        let mut third = Client::connect(addr);
        // Only one connection is ever open, so the cap is never reached: the others wait their
        // turn and nobody is turned away.
        second.send(64);
        third.send(64);
        second.assert_not_served();
        drop(first);
        second.expect_echo();
        drop(second);
        third.expect_echo();
        drop(third);
        let stderr = server.stderr();
        let summary = server.stop();
        assert_eq!((summary.accepted, summary.refused), (3, 0));
        assert!(!stderr.contains("connection limit"), "{stderr}");
        return;
    }
    second.echo(64, 1);
    // Connected only once the second is in: where several threads accept (thread-per-core), two
    // connections waiting together may be admitted in either order.
    let mut third = Client::connect(addr);
    third.assert_closed_by_server();
    // The two within the cap are still served.
    first.echo(4096, 2);
    second.echo(4096, 2);
    let line = eventually("the refusal is logged on stderr", || {
        let stderr = server.stderr();
        match stderr
            .lines()
            .find(|l| l.contains("connection limit of 2 reached"))
        {
            Some(line) => Ok(line.to_owned()),
            None => Err(stderr),
        }
    });
    assert!(
        line.contains("--max-connections"),
        "it says what to do: {line}"
    );
    drop((first, second));
    let summary = server.stop();
    assert_eq!((summary.accepted, summary.refused), (2, 1));
    assert_eq!(summary.closed, 2);
}

// ---------------------------------------------------------------------------------------------
// Work models

/// Message size the work tests use (the servers' default `--msg-size`).
const MSG: usize = 64;

fn block_work_shows_as_loop_lag(target: &'static Target) {
    // Work is due on every whole KiB a connection sends (`--msg-size 1024`). One loop thread
    // (`--threads 1`), so a handler that blocks it blocks the whole loop.
    const WORKING: usize = 1024;
    if echo_targets::program(target).is_some_and(|p| p.hands_off_blocking_calls) {
        // Go: the runtime hands the blocked thread's right to run Go code to another thread, so
        // the block holds up its own connection only, like a sleep.
        return keeps_answering_during("block", target);
    }
    let server = Process::start(
        target,
        &[
            "--threads",
            "1",
            "--work",
            "block:200ms",
            "--msg-size",
            "1024",
        ],
    );
    if !target.event_loop() {
        let mut client = Client::connect(server.addr());
        client.send(WORKING);
        client.expect_echo();
        let summary = server.stop();
        assert_eq!(
            summary.loop_lag_ns, None,
            "no event loop, no loop lag to report"
        );
        return;
    }
    // The probe records lag only while a connection is open: a bystander keeps one open
    // throughout, sending too little (64 B at a time, 11 times) to ever complete a working KiB.
    let mut bystander = Client::connect(server.addr());
    bystander.echo(MSG, 1);
    // A probe timed from the loop (Node's monitorEventLoopDelay) measures each tick from the one
    // before: its first tick after the connection only sets that base. Blocks that begin before
    // it would be seen by no tick at all, so the loop gets a few periods to take it first.
    thread::sleep(3 * LAG_PERIOD);
    // Three working messages that arrive together are worked on back to back, inside one turn
    // of the loop: three blocking sleeps with no chance for the probe to run between them.
    let mut worker = Client::connect(server.addr());
    worker.send_together(WORKING, 3);
    if !server.threads().iter().any(|t| t.name == TICKER_THREAD) {
        return lag_probed_from_the_loop(server, bystander, worker);
    }
    let blocked = |server: &Process| {
        server
            .threads()
            .iter()
            .any(|t| t.name != TICKER_THREAD && t.in_sleep_call())
    };
    eventually("a loop thread is in the handler's blocking sleep", || {
        if blocked(&server) {
            Ok(())
        } else {
            Err(server.threads())
        }
    });
    // The ticker sends a tick each time it wakes while a connection is open. Once it has gone
    // to sleep twice more than when the block was seen, one whole wake (and its tick) fell
    // inside the block: a tick was due no later than `tick_due`, and the probe cannot take it
    // before the loop is free again.
    let ticker = |server: &Process| {
        server
            .threads()
            .into_iter()
            .find(|t| t.name == TICKER_THREAD)
            .expect("an event-loop server runs a lag ticker thread")
    };
    let sleeps_at_block = ticker(&server).voluntary_switches;
    eventually("the ticker wakes during the block", || {
        match ticker(&server).voluntary_switches {
            n if n >= sleeps_at_block + 2 => Ok(()),
            n => Err(n),
        }
    });
    let tick_due = Instant::now();
    // The last moment the loop is seen still blocked: the block ends after it.
    let mut seen_blocked = tick_due;
    loop {
        let now = Instant::now();
        if !blocked(&server) {
            break;
        }
        seen_blocked = now;
        assert!(
            now < tick_due + HANG_GUARD,
            "the loop stayed blocked for {HANG_GUARD:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let lag = lag_after_the_block(server, &mut bystander, &mut worker);
    let blocked_after_tick = seen_blocked - tick_due;
    assert!(
        lag.max >= blocked_after_tick.as_nanos() as u64,
        "the loop was seen blocked for {blocked_after_tick:?} after a tick was due, but the \
         largest lag recorded was {} ns",
        lag.max
    );
}

/// Once the worker's echo is back: round trips on the freed loop, which runs the probe's overdue
/// turn along the way, then the server's summary of its loop lag.
fn lag_after_the_block(server: Process, bystander: &mut Client, worker: &mut Client) -> LagSummary {
    worker.expect_echo();
    for _ in 0..10 {
        bystander.echo(MSG, 1);
    }
    server
        .stop()
        .loop_lag_ns
        .expect("an event loop reports its loop lag")
}

/// The rest of [`block_work_shows_as_loop_lag`] for a loop that times itself from a timer on the
/// loop (Node's `monitorEventLoopDelay`) rather than from a ticker thread: no thread can show
/// when a tick fell due, so the bystander's wait is the measure. It sends once the server has
/// read the working messages (their work began in that same turn of the loop), and is answered
/// only after all three blocks, since the loop cannot turn in between.
fn lag_probed_from_the_loop(server: Process, mut bystander: Client, mut worker: Client) {
    wait_until_read_by_server(&worker, server.addr());
    let sent = Instant::now();
    bystander.echo(MSG, 1);
    let waited = sent.elapsed();
    assert!(
        worker.has_unread_bytes(),
        "the bystander was answered while the loop was still in the working messages' blocks"
    );
    let lag = lag_after_the_block(server, &mut bystander, &mut worker);
    // The loop's timer fell due during the blocks and ran only after them, so it recorded most of
    // what the bystander waited; half leaves room for the machine's own scheduling.
    assert!(
        lag.max >= waited.as_nanos() as u64 / 2,
        "the bystander waited {waited:?} on the blocked loop, but the largest lag recorded was \
         {} ns",
        lag.max
    );
}

fn keeps_answering_while_a_message_sleeps(target: &'static Target) {
    keeps_answering_during("sleep", target);
}

fn keeps_answering_while_a_message_is_offloaded(target: &'static Target) {
    keeps_answering_during("offload", target);
}

/// A client's second message gets `work` (every 2nd message does); while it is in its work, a
/// bystander — whose first message gets none — is answered. One loop thread (`--threads 1`), so
/// a multi-threaded runtime cannot hide a blocked loop behind another thread.
fn keeps_answering_during(kind: &str, target: &'static Target) {
    // The work outlasts any bystander's round trip on a machine that runs this suite at all: a
    // hang-guard bound, not a measurement. The test does not wait for it to end, except on the
    // one-at-a-time server, where how long it lasts does not matter.
    let lasts = if target.one_at_a_time() {
        Duration::from_millis(100)
    } else {
        HANG_GUARD / 2
    };
    let work = format!("{kind}:{}ms", lasts.as_millis());
    if refuses(target, kind) {
        return; // does_every_work_kind_or_refuses_it_in_one_line checks the refusal.
    }
    let server = Process::start(
        target,
        &["--threads", "1", "--work", &work, "--work-every", "2"],
    );
    let mut worker = Client::connect(server.addr());
    worker.echo(MSG, 1);
    worker.send(MSG);
    // The server does the work as soon as it has read the message, before it echoes it.
    wait_until_read_by_server(&worker, server.addr());
    let mut bystander = Client::connect(server.addr());
    if target.one_at_a_time() {
        bystander.send(MSG);
        bystander.assert_not_served();
        worker.expect_echo();
        drop(worker);
        bystander.expect_echo();
        let summary = server.stop();
        assert_eq!(summary.accepted, 2);
        return;
    }
    bystander.echo(MSG, 1);
    assert!(
        !worker.has_unread_bytes(),
        "the bystander was answered only after the working message was done"
    );
    if target.event_loop() {
        // Shutdown cancels the work still under way.
        let summary = server.stop();
        assert_eq!(summary.accepted, 2);
    }
    // A thread-per-connection server's thread sleeps the work out; the process is killed.
}

/// Every `--work` kind, as spelled on the command line.
const WORK_KINDS: [&str; 9] = [
    "none",
    "sleep:1ms",
    "block:1ms",
    "offload:1ms",
    "cpu:1ms",
    "file-block:4KiB",
    "file-offload:4KiB",
    "sqlite-block",
    "sqlite-offload",
];

/// Whether `target` says it does not do the work `kind` (only programs of other languages may).
fn refuses(target: &Target, kind: &str) -> bool {
    echo_targets::program(target).is_some_and(|p| p.refuses.contains(&kind))
}

/// A server does each kind of work (it echoes a working message) or refuses it exactly as its
/// registration says: one line on stderr naming the kind and why, nothing on stdout, and the
/// exit status loadgen reports as not measured, before it listens.
fn does_every_work_kind_or_refuses_it_in_one_line(target: &'static Target) {
    for spelling in WORK_KINDS {
        let kind = spelling.split(':').next().unwrap();
        let args = ["--work", spelling];
        if refuses(target, kind) {
            let (status, stdout, stderr) = support::refusal(target, &args);
            assert_eq!(
                status.code(),
                Some(echo_common::EXIT_UNAVAILABLE.into()),
                "{spelling}: {stderr}"
            );
            assert!(stdout.is_empty(), "{spelling}: nothing on stdout: {stdout}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert!(
                lines.len() == 1 && lines[0].contains(kind) && lines[0].contains("not measured"),
                "{spelling}: one line naming the kind and saying it is not measured: {stderr:?}"
            );
        } else {
            let server = Process::start(target, &args);
            let mut client = Client::connect(server.addr());
            client.echo(MSG, 2);
            drop(client);
            let summary = server.stop();
            assert_eq!(
                (summary.accepted, summary.errors),
                (1, 0),
                "{spelling}: {summary:?}"
            );
        }
    }
}

//! The yardstick client (`examples/pingpong.rs`) against a server of the test's own on 127.0.0.1
//! that serves some connections and leaves the rest unserved after their first echo: the count
//! of starved clients it prints is what `scripts/fidelity.sh` compares between a target and its
//! minimal server.
//! Durations are short windows and hang guards, never assertions.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::{finish, text};

/// Clients per run.
const CLIENTS: usize = 5;

/// Bytes per message.
const MSG_SIZE: usize = 64;

/// Connections the test server keeps echoing on; the others get one echo (in the warm-up),
/// then none.
const SERVED: usize = 2;

/// The `pingpong` example of this build, built fresh beside the test (a test target alone does
/// not build the package's examples).
fn pingpong() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let profile = profile_dir.file_name().unwrap().to_string_lossy();
    let profile = if profile == "debug" {
        "dev".into()
    } else {
        profile.into_owned()
    };
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "loadgen", "--example", "pingpong"])
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap())
        .status()
        .expect("run cargo");
    assert!(built.success(), "cannot build the pingpong example");
    profile_dir.join("examples/pingpong")
}

/// A server that echoes on its first `served` connections and, on the rest, echoes the first
/// message only, then reads and never answers; it stops accepting after `clients`.
fn server(clients: usize, served: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for n in 0..clients {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            std::thread::spawn(move || serve(stream, n < served));
        }
    });
    addr
}

/// Echoes everything (`always`) or only the first message, until the client closes.
fn serve(mut stream: TcpStream, always: bool) {
    let mut buf = [0; MSG_SIZE];
    if stream.read_exact(&mut buf).is_err() || stream.write_all(&buf).is_err() {
        return;
    }
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        if always && stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

#[test]
fn the_yardstick_counts_the_clients_a_server_leaves_unserved() {
    let addr = server(CLIENTS, SERVED);
    // ADDR CLIENTS SECONDS MSG_SIZE WARMUP: a short window after a warm-up long enough for
    // every client's first echo, so that those served only then count as starved.
    let child = Command::new(pingpong())
        .args([&addr.to_string(), &CLIENTS.to_string(), "0.3"])
        .args([&MSG_SIZE.to_string(), "0.5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pingpong starts");
    let out = finish(child);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let starved = CLIENTS - SERVED;
    assert!(
        stdout.starts_with(&format!("pingpong: {CLIENTS} clients, {starved} starved, ")),
        "{stdout}"
    );
    let trips: u64 = stdout
        .split(" starved, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no round trips in: {stdout}"));
    assert!(trips > 0, "the served clients' round trips count: {stdout}");
}

//! The leanest idiomatic one-connection-at-a-time echo server, the yardstick
//! `scripts/fidelity.sh` holds the `blocking` target to: std::net, each connection served to the
//! end on the main thread, a 16 KiB buffer, TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-blocking --example blocking-minimal -- 127.0.0.1:7878
//! ```

use std::io::{Read, Write};
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let mut stream = stream?;
        stream.set_nodelay(true)?;
        let mut buf = vec![0; 16 * 1024];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            if stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    }
    Ok(())
}

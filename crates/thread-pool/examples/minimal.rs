//! The leanest idiomatic thread-pool echo server, the yardstick `scripts/fidelity.sh` holds the
//! `thread-pool` target to: std::net, 8 worker threads (the target's pool for `--threads 1`)
//! taking connections from a shared channel, a 16 KiB buffer, TCP_NODELAY. No flags, no work,
//! no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-thread-pool --example thread-pool-minimal -- 127.0.0.1:7878
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    let (queue, queued) = mpsc::channel::<TcpStream>();
    let queued = Arc::new(Mutex::new(queued));
    for _ in 0..8 {
        let queued = Arc::clone(&queued);
        std::thread::spawn(move || {
            loop {
                // Its own statement, so the lock is not held while serving.
                let next = queued.lock().unwrap().recv();
                let Ok(mut stream) = next else { return };
                let mut buf = vec![0; 16 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
    }
    for stream in listener.incoming() {
        let stream = stream?;
        stream.set_nodelay(true)?;
        queue.send(stream).map_err(std::io::Error::other)?;
    }
    Ok(())
}

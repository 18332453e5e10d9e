//! The leanest idiomatic monoio echo server, the yardstick `scripts/fidelity.sh` holds the
//! `monoio` target to: one io_uring runtime on the main thread, a task per connection, an owned
//! 16 KiB buffer passed to the kernel and back, TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-monoio --example monoio-minimal -- 127.0.0.1:7878
//! ```

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpListener;
use monoio::{IoUringDriver, RuntimeBuilder};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    RuntimeBuilder::<IoUringDriver>::new()
        .build()?
        .block_on(async {
            let listener = TcpListener::bind(addr)?;
            println!("listening on {}", listener.local_addr()?);
            loop {
                let (mut stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                monoio::spawn(async move {
                    let mut buf = Vec::with_capacity(16 * 1024);
                    loop {
                        let (read, filled) = stream.read(buf).await;
                        if !matches!(read, Ok(1..)) {
                            return;
                        }
                        let (written, echoed) = stream.write_all(filled).await;
                        if written.is_err() {
                            return;
                        }
                        buf = echoed;
                        buf.clear();
                    }
                });
            }
        })
}

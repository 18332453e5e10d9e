//! The leanest idiomatic compio echo server, the yardstick `scripts/fidelity.sh` holds the
//! `compio` target to: one io_uring runtime on the main thread, a task per connection, an owned
//! 16 KiB buffer passed to the kernel and back, TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-compio --example compio-minimal -- 127.0.0.1:7878
//! ```

use compio::BufResult;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::TcpListener;
use compio::runtime::Runtime;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    Runtime::new()?.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            compio::runtime::spawn(async move {
                let mut buf = Vec::with_capacity(16 * 1024);
                loop {
                    let BufResult(read, filled) = stream.read(buf).await;
                    if !matches!(read, Ok(1..)) {
                        return;
                    }
                    let BufResult(written, echoed) = stream.write_all(filled).await;
                    if written.is_err() {
                        return;
                    }
                    buf = echoed;
                    buf.clear();
                }
            })
            .detach();
        }
    })
}

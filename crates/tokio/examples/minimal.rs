//! The leanest idiomatic tokio echo server, the yardstick `scripts/fidelity.sh` holds the `tokio`
//! target to: `#[tokio::main]` (the multi-thread runtime, one worker per CPU it may run on), a
//! task per connection, a 16 KiB buffer, TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-tokio --example tokio-minimal -- 127.0.0.1:7878
//! ```

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buf = vec![0; 16 * 1024];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
    }
}

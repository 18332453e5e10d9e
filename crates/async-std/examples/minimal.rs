//! The leanest idiomatic async-std echo server, the yardstick `scripts/fidelity.sh` holds the
//! `async-std` target to: `task::block_on` with the global executor (one thread per CPU it may
//! run on), a task per connection, a 16 KiB buffer, TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-async-std --example async-std-minimal -- 127.0.0.1:7878
//! ```

use async_std::io::{ReadExt, WriteExt};
use async_std::net::TcpListener;
use async_std::task;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    task::block_on(async {
        let listener = TcpListener::bind(addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            task::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    })
}

//! The leanest idiomatic smol echo server, the yardstick `scripts/fidelity.sh` holds the `smol`
//! target to: one `Executor` run on the main thread, the accept loop and every connection tasks
//! on it, a 16 KiB buffer, TCP_NODELAY. No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-smol --example smol-minimal -- 127.0.0.1:7878
//! ```

use std::net::TcpListener;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Executor};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    let executor = Executor::new();
    smol::block_on(executor.run(async {
        let listener = Async::<TcpListener>::bind(
            addr.parse::<std::net::SocketAddr>()
                .map_err(std::io::Error::other)?,
        )?;
        println!("listening on {}", listener.get_ref().local_addr()?);
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.get_ref().set_nodelay(true)?;
            executor
                .spawn(async move {
                    let mut buf = vec![0; 16 * 1024];
                    while let Ok(n @ 1..) = stream.read(&mut buf).await {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                })
                .detach();
        }
    }))
}

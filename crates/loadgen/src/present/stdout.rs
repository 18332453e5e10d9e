//! Writing to stdout without panicking when its reader has gone: `loadgen table results/ | head -1`
//! closes the pipe after one line, and the rest of the output is then for no one. A closed pipe
//! is not an error of loadgen's, so it ends the writing quietly and leaves the exit status to
//! what loadgen did.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Set once stdout's reader has gone; later writes are skipped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout and flushes it; a closed pipe is not an error.
pub fn write(text: &str) -> io::Result<()> {
    if CLOSED.load(Relaxed) {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Relaxed);
            Ok(())
        }
        other => other,
    }
}

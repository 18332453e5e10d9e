//! The work a server does on a message before echoing it: the right and the wrong ways to wait,
//! read a file or query a database from an event loop.
//!
//! The `--work` flag is a [`WorkSpec`] (echo-proto); a server prepares it into a [`Work`], which
//! holds what the work needs (a data file, a database), so work cannot be run unprepared. Every
//! kind has one blocking implementation, [`Work::run_blocking`]. What differs between the pitfall
//! and its fix is only *where* a server runs it, which [`Work::how`] says: on the event loop
//! itself ([`How::Inline`], the pitfall), on the runtime's blocking pool ([`How::Offload`], the
//! fix), or not at all because the runtime's own timer can wait instead ([`How::Wait`]).
//! Thread-per-connection servers have no loop to block, so they run every kind inline.
//!
//! What a kind prepares lives with it: the data file in `file.rs`, the database in `sqlite.rs`.

mod file;
mod sqlite;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use echo_proto::{How, WorkSpec};
pub use file::DataFile;
pub use sqlite::{Database, SQLITE_ROWS};

/// Work done per message, prepared: what it reads exists until the last clone is dropped. Made
/// only by [`Work::prepare`], so none is ever run unprepared.
#[derive(Clone, Debug)]
pub struct Work(Kind);

/// What a prepared work holds, by kind.
#[derive(Clone, Debug)]
enum Kind {
    /// Work that needs nothing prepared: none, a sleep, a blocking sleep, spinning (never a
    /// file or a database: [`Work::prepare`] prepares those).
    Timed(WorkSpec),
    /// `file-block:BYTES` / `file-offload:BYTES`: open a real file and read it with `std::fs`.
    File {
        /// Run on the blocking pool rather than on the loop.
        offload: bool,
        /// The file.
        data: Arc<DataFile>,
    },
    /// `sqlite-block` / `sqlite-offload`: a real query on a real SQLite database.
    Sqlite {
        /// Run on the blocking pool rather than on the loop.
        offload: bool,
        /// The database.
        db: Arc<Database>,
    },
}

impl Work {
    /// Creates what `spec` reads: the data file or the database, in the system's temporary
    /// directory, removed again when the last clone of this `Work` is dropped.
    pub fn prepare(spec: WorkSpec) -> io::Result<Work> {
        Ok(Work(match spec {
            WorkSpec::File { bytes, offload } => Kind::File {
                offload,
                data: Arc::new(DataFile::create(bytes)?),
            },
            WorkSpec::Sqlite { offload } => Kind::Sqlite {
                offload,
                db: Arc::new(Database::create()?),
            },
            timed => Kind::Timed(timed),
        }))
    }

    /// The spec this work was prepared from.
    pub fn spec(&self) -> WorkSpec {
        match &self.0 {
            Kind::Timed(spec) => *spec,
            Kind::File { offload, data } => WorkSpec::File {
                bytes: data.bytes,
                offload: *offload,
            },
            Kind::Sqlite { offload, .. } => WorkSpec::Sqlite { offload: *offload },
        }
    }

    /// Where an event-loop server runs this work.
    pub fn how(&self) -> How {
        self.spec().how()
    }

    /// Does the work on the calling thread, blocking it for as long as the work takes.
    pub fn run_blocking(&self) -> io::Result<()> {
        match &self.0 {
            Kind::Timed(WorkSpec::Sleep(d) | WorkSpec::Block(d) | WorkSpec::Offload(d)) => {
                std::thread::sleep(*d);
                Ok(())
            }
            Kind::Timed(WorkSpec::Cpu(d)) => {
                spin(*d);
                Ok(())
            }
            Kind::Timed(_) => Ok(()),
            Kind::File { data, .. } => data.read_all(),
            Kind::Sqlite { db, .. } => db.query(),
        }
    }
}

/// Burns CPU until `d` has passed, doing arithmetic the optimiser cannot remove.
fn spin(d: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        for i in 0..64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
}

/// A fresh path in the temporary directory, unique to this process and call. Whatever an earlier
/// process with the same id left there (killed before it could remove its files: a database, or
/// its journal) is removed first, so the work starts from nothing.
fn temp_path(kind: &str) -> io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("echo-bench-{}-{kind}-{n}", std::process::id());
    cleared(std::env::temp_dir().join(name))
}

/// `path`, with any file there and its SQLite journal removed.
fn cleared(path: PathBuf) -> io::Result<PathBuf> {
    let mut journal = path.clone().into_os_string();
    journal.push("-journal");
    for stale in [path.as_path(), Path::new(&journal)] {
        match std::fs::remove_file(stale) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(path)
}

/// Counts a connection's bytes into messages, to find the ones that get work.
#[derive(Debug, Clone)]
pub struct Framer {
    /// Bytes per working cycle: `msg_size × every`.
    cycle: u64,
    /// Bytes received so far, modulo `cycle`.
    offset: u64,
}

impl Framer {
    /// Messages of `msg_size` bytes, every `every`th of which gets work.
    pub fn new(msg_size: usize, every: u64) -> Self {
        Framer {
            cycle: msg_size as u64 * every,
            offset: 0,
        }
    }

    /// Takes `n` more received bytes; returns how many working messages they complete. A message's
    /// work is due when its last byte arrives, so its echo waits on the work, as a reply would.
    pub fn received(&mut self, n: usize) -> u64 {
        let end = self.offset + n as u64;
        self.offset = end % self.cycle;
        end / self.cycle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_left_by_an_earlier_process_with_the_same_id_is_cleared() {
        let dir = std::env::temp_dir().join(format!("echo-bench-cleared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("echo-bench-1-sqlite-0");
        std::fs::write(&path, "a database with its table already made").unwrap();
        std::fs::write(dir.join("echo-bench-1-sqlite-0-journal"), "hot").unwrap();
        let fresh = cleared(path.clone()).unwrap();
        assert_eq!(fresh, path);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        cleared(path).expect("nothing there is no error");
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn framer_finds_every_nth_message_across_reads() {
        // Messages of 4 bytes, work on every 3rd: due after bytes 12, 24, 36, ...
        let mut framer = Framer::new(4, 3);
        assert_eq!(framer.received(11), 0);
        assert_eq!(framer.received(1), 1);
        assert_eq!(framer.received(24), 2);
        assert_eq!(framer.received(5), 0);
        assert_eq!(framer.received(7), 1);
        // The server and the client agree on which messages those are.
        let working: Vec<u64> = (0..9).filter(|&i| WorkSpec::applies_to(i, 3)).collect();
        assert_eq!(working, [2, 5, 8]);
    }

    #[test]
    fn file_work_reads_the_whole_file() {
        let work = Work::prepare("file-block:100KiB".parse().unwrap()).unwrap();
        let Kind::File { data, .. } = &work.0 else {
            unreachable!()
        };
        assert_eq!(std::fs::metadata(data.path()).unwrap().len(), 100 * 1024);
        work.run_blocking().unwrap();
        let path = data.path().to_owned();
        drop(work);
        assert!(!path.exists(), "the data file is removed with the work");
    }

    #[test]
    fn sqlite_work_really_queries() {
        let work = Work::prepare("sqlite-offload".parse().unwrap()).unwrap();
        let Kind::Sqlite { db, .. } = &work.0 else {
            unreachable!()
        };
        let (count, _) = db.expected;
        assert!(
            count > 0 && count < SQLITE_ROWS as i64,
            "the filter selects some rows: {count}"
        );
        work.run_blocking().unwrap();
        work.run_blocking().unwrap();
    }

    #[test]
    fn prepared_work_keeps_its_spec() {
        for s in ["none", "block:1.00ms", "file-offload:1KiB", "sqlite-block"] {
            let spec: WorkSpec = s.parse().unwrap();
            assert_eq!(Work::prepare(spec).unwrap().spec(), spec);
        }
    }
}

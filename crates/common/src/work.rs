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

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use echo_proto::{How, WorkSpec};

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

/// A file of known size for the `file-*` work, deleted on drop.
#[derive(Debug)]
pub struct DataFile {
    path: PathBuf,
    bytes: u64,
}

/// Bytes read per `read` call when serving `file-*` work: the same chunk `std::io::copy` uses.
const FILE_CHUNK: usize = 8 * 1024;

impl DataFile {
    fn create(bytes: u64) -> io::Result<Self> {
        let path = temp_path("data")?;
        let file = File::create(&path)?;
        io::copy(
            &mut io::repeat(b'e').take(bytes),
            &mut io::BufWriter::new(&file),
        )?;
        file.sync_all()?;
        Ok(DataFile { path, bytes })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_all(&self) -> io::Result<()> {
        thread_local! {
            static CHUNK: RefCell<Vec<u8>> = RefCell::new(vec![0; FILE_CHUNK]);
        }
        let mut file = File::open(&self.path)?;
        let read = CHUNK.with_borrow_mut(|chunk| -> io::Result<u64> {
            let mut total = 0;
            loop {
                match file.read(chunk)? {
                    0 => return Ok(total),
                    n => total += n as u64,
                }
            }
        })?;
        if read != self.bytes {
            return Err(io::Error::other(format!(
                "read {read} bytes of {}, expected {}",
                self.path.display(),
                self.bytes
            )));
        }
        Ok(())
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Rows in the `sqlite-*` database. A full scan of this many rows with the query below takes
/// about a millisecond on this project's reference machine: a typical small report query.
pub const SQLITE_ROWS: u32 = 20_000;

/// The query every `sqlite-*` message runs: an aggregate the index cannot answer, so SQLite really
/// reads the table.
const SQLITE_QUERY: &str = "SELECT count(*), sum(amount) FROM orders WHERE note LIKE '%7%'";

/// A SQLite database for the `sqlite-*` work, deleted on drop. Each thread that queries it opens
/// its own connection once, as a connection pool would hand out.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    expected: (i64, i64),
}

impl Database {
    fn create() -> io::Result<Self> {
        let path = temp_path("sqlite")?;
        let conn = rusqlite::Connection::open(&path).map_err(io::Error::other)?;
        conn.execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT);",
        )
        .map_err(io::Error::other)?;
        let tx = conn.unchecked_transaction().map_err(io::Error::other)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO orders (customer, amount, note) VALUES (?1, ?2, ?3)")
                .map_err(io::Error::other)?;
            for i in 0..SQLITE_ROWS {
                let note = format!("order {i} for customer {}", i % 97);
                insert
                    .execute(rusqlite::params![i % 97, i % 1000, note])
                    .map_err(io::Error::other)?;
            }
        }
        tx.commit().map_err(io::Error::other)?;
        let mut db = Database {
            path,
            expected: (0, 0),
        };
        db.expected = db.run_query(&conn)?;
        Ok(db)
    }

    /// The database's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run_query(&self, conn: &rusqlite::Connection) -> io::Result<(i64, i64)> {
        conn.prepare_cached(SQLITE_QUERY)
            .and_then(|mut q| q.query_row([], |row| Ok((row.get(0)?, row.get(1)?))))
            .map_err(io::Error::other)
    }

    fn query(&self) -> io::Result<()> {
        thread_local! {
            static CONNECTIONS: RefCell<Vec<(PathBuf, rusqlite::Connection)>> = const { RefCell::new(Vec::new()) };
        }
        CONNECTIONS.with_borrow_mut(|conns| {
            let conn = match conns.iter().position(|(p, _)| *p == self.path) {
                Some(i) => &conns[i].1,
                None => {
                    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let conn = rusqlite::Connection::open_with_flags(&self.path, flags)
                        .map_err(io::Error::other)?;
                    conns.push((self.path.clone(), conn));
                    &conns.last().expect("just pushed").1
                }
            };
            let got = self.run_query(conn)?;
            if got != self.expected {
                return Err(io::Error::other(format!(
                    "query returned {got:?}, expected {:?}",
                    self.expected
                )));
            }
            Ok(())
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A fresh path in the temporary directory, unique to this process and call.
fn temp_path(kind: &str) -> io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Ok(std::env::temp_dir().join(format!("echo-bench-{}-{kind}-{n}", std::process::id())))
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

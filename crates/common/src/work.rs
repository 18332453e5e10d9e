//! The work a server does on a message before echoing it: the right and the wrong ways to wait,
//! read a file or query a database from an event loop.
//!
//! Every variant has one blocking implementation, [`Work::run_blocking`]. What differs between
//! the pitfall and its fix is only *where* a server runs it, which [`Work::how`] says: on the
//! event loop itself ([`How::Inline`], the pitfall), on the runtime's blocking pool
//! ([`How::Offload`], the fix), or not at all because the runtime's own timer can wait instead
//! ([`How::Wait`]). Thread-per-connection servers have no loop to block, so they run every
//! variant inline.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::units::{format_bytes, format_duration, parse_bytes, parse_duration};

/// Work done per message. Parse it from the `--work` spelling; call [`Work::prepare`] before use.
#[derive(Clone, Debug, Default)]
pub enum Work {
    /// A plain echo.
    #[default]
    None,
    /// `sleep:DUR`: wait on the runtime's own timer (the right way to wait).
    Sleep(Duration),
    /// `block:DUR`: `std::thread::sleep` inside the handler (the pitfall).
    Block(Duration),
    /// `offload:DUR`: the same blocking sleep on the runtime's blocking pool, awaited (the fix).
    Offload(Duration),
    /// `cpu:DUR`: spin the CPU. Async makes CPU-bound work no cheaper; it only hides where it runs.
    Cpu(Duration),
    /// `file-block:BYTES` / `file-offload:BYTES`: open a real file and read it with `std::fs`.
    File {
        /// Bytes read per message.
        bytes: u64,
        /// Run on the blocking pool rather than on the loop.
        offload: bool,
        /// The file, once [`Work::prepare`] has written it.
        data: Option<Arc<DataFile>>,
    },
    /// `sqlite-block` / `sqlite-offload`: a real query on a real SQLite database.
    Sqlite {
        /// Run on the blocking pool rather than on the loop.
        offload: bool,
        /// The database, once [`Work::prepare`] has built it.
        db: Option<Arc<Database>>,
    },
}

/// Where a server runs a message's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Nothing to do.
    Nothing,
    /// Await the runtime's timer for this long.
    Wait(Duration),
    /// Call [`Work::run_blocking`] right here, on whatever thread runs the handler.
    Inline,
    /// Hand [`Work::run_blocking`] to the runtime's blocking pool and await it.
    Offload,
}

impl Work {
    /// Where an event-loop server runs this work.
    pub fn how(&self) -> How {
        match self {
            Work::None => How::Nothing,
            Work::Sleep(d) => How::Wait(*d),
            Work::Block(_) | Work::Cpu(_) => How::Inline,
            Work::Offload(_) => How::Offload,
            Work::File { offload, .. } | Work::Sqlite { offload, .. } => {
                if *offload {
                    How::Offload
                } else {
                    How::Inline
                }
            }
        }
    }

    /// Whether message `index` (counted from 0 on each connection) gets the work when only every
    /// `every`th message does. The server and the load generator both ask this, so they agree on
    /// which messages are the bystanders.
    pub fn applies_to(index: u64, every: u64) -> bool {
        (index + 1).is_multiple_of(every)
    }

    /// Creates what the work reads: the data file or the database, in the system's temporary
    /// directory, removed again when the last clone of this `Work` is dropped.
    pub fn prepare(&mut self) -> io::Result<()> {
        match self {
            Work::File { bytes, data, .. } if data.is_none() => {
                *data = Some(Arc::new(DataFile::create(*bytes)?));
            }
            Work::Sqlite { db, .. } if db.is_none() => *db = Some(Arc::new(Database::create()?)),
            _ => {}
        }
        Ok(())
    }

    /// Does the work on the calling thread, blocking it for as long as the work takes.
    pub fn run_blocking(&self) -> io::Result<()> {
        match self {
            Work::None => Ok(()),
            Work::Sleep(d) | Work::Block(d) | Work::Offload(d) => {
                std::thread::sleep(*d);
                Ok(())
            }
            Work::Cpu(d) => {
                spin(*d);
                Ok(())
            }
            Work::File { data, .. } => unprepared(data)?.read_all(),
            Work::Sqlite { db, .. } => unprepared(db)?.query(),
        }
    }
}

fn unprepared<T>(resource: &Option<Arc<T>>) -> io::Result<&T> {
    resource
        .as_deref()
        .ok_or_else(|| io::Error::other("work used before Work::prepare"))
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

/// Why a `--work` spelling was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid work '{spelling}': {reason}")]
pub struct ParseWorkError {
    spelling: String,
    reason: String,
}

/// The spellings, for error messages and `--help`.
const SPELLINGS: &str = "none, sleep:DUR, block:DUR, offload:DUR, cpu:DUR, file-block:BYTES, \
                         file-offload:BYTES, sqlite-block, sqlite-offload";

impl FromStr for Work {
    type Err = ParseWorkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ParseWorkError {
            spelling: s.to_owned(),
            reason,
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let duration = || -> Result<Duration, ParseWorkError> {
            let d = parse_duration(
                arg.ok_or_else(|| fail(format!("{kind} needs a duration, e.g. {kind}:1ms")))?,
            )
            .map_err(fail)?;
            if d.is_zero() {
                return Err(fail("the duration must be more than zero".into()));
            }
            Ok(d)
        };
        let bytes = || -> Result<u64, ParseWorkError> {
            let n = parse_bytes(
                arg.ok_or_else(|| fail(format!("{kind} needs a size, e.g. {kind}:64KiB")))?,
            )
            .map_err(fail)?;
            if n == 0 {
                return Err(fail("the size must be more than zero".into()));
            }
            Ok(n)
        };
        let no_arg = |w: Work| match arg {
            None => Ok(w),
            Some(_) => Err(fail(format!("{kind} takes no argument"))),
        };
        match kind {
            "none" => no_arg(Work::None),
            "sleep" => Ok(Work::Sleep(duration()?)),
            "block" => Ok(Work::Block(duration()?)),
            "offload" => Ok(Work::Offload(duration()?)),
            "cpu" => Ok(Work::Cpu(duration()?)),
            "file-block" | "file-offload" => Ok(Work::File {
                bytes: bytes()?,
                offload: kind == "file-offload",
                data: None,
            }),
            "sqlite-block" | "sqlite-offload" => no_arg(Work::Sqlite {
                offload: kind == "sqlite-offload",
                db: None,
            }),
            _ => Err(fail(format!(
                "unknown kind '{kind}'; expected one of {SPELLINGS}"
            ))),
        }
    }
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |offload: bool| if offload { "offload" } else { "block" };
        match self {
            Work::None => f.write_str("none"),
            Work::Sleep(d) => write!(f, "sleep:{}", format_duration(*d)),
            Work::Block(d) => write!(f, "block:{}", format_duration(*d)),
            Work::Offload(d) => write!(f, "offload:{}", format_duration(*d)),
            Work::Cpu(d) => write!(f, "cpu:{}", format_duration(*d)),
            Work::File { bytes, offload, .. } => {
                write!(f, "file-{}:{}", side(*offload), format_bytes(*bytes))
            }
            Work::Sqlite { offload, .. } => write!(f, "sqlite-{}", side(*offload)),
        }
    }
}

impl serde::Serialize for Work {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for s in [
            "none",
            "sleep:1.00ms",
            "block:250.0us",
            "offload:2.00s",
            "cpu:1.00ms",
            "file-block:64KiB",
            "file-offload:1MiB",
            "sqlite-block",
            "sqlite-offload",
        ] {
            assert_eq!(s.parse::<Work>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn bad_spellings_say_why() {
        let err = |s: &str| s.parse::<Work>().unwrap_err().to_string();
        assert!(err("nap:1ms").contains("unknown kind 'nap'"));
        assert!(err("sleep").contains("needs a duration"));
        assert!(err("sleep:0ms").contains("more than zero"));
        assert!(err("sleep:1").contains("no unit"));
        assert!(err("file-block").contains("needs a size"));
        assert!(err("sqlite-block:3").contains("takes no argument"));
    }

    #[test]
    fn pitfall_and_fix_run_in_different_places() {
        let how = |s: &str| s.parse::<Work>().unwrap().how();
        assert_eq!(how("sleep:1ms"), How::Wait(Duration::from_millis(1)));
        assert_eq!(how("block:1ms"), How::Inline);
        assert_eq!(how("offload:1ms"), How::Offload);
        assert_eq!(how("cpu:1ms"), How::Inline);
        assert_eq!(how("file-block:1KiB"), How::Inline);
        assert_eq!(how("file-offload:1KiB"), How::Offload);
        assert_eq!(how("sqlite-block"), How::Inline);
        assert_eq!(how("sqlite-offload"), How::Offload);
        assert_eq!(how("none"), How::Nothing);
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
        let working: Vec<u64> = (0..9).filter(|&i| Work::applies_to(i, 3)).collect();
        assert_eq!(working, [2, 5, 8]);
    }

    #[test]
    fn file_work_reads_the_whole_file() {
        let mut work: Work = "file-block:100KiB".parse().unwrap();
        assert!(work.run_blocking().is_err(), "unprepared work must fail");
        work.prepare().unwrap();
        let Work::File {
            data: Some(data), ..
        } = &work
        else {
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
        let mut work: Work = "sqlite-offload".parse().unwrap();
        work.prepare().unwrap();
        let Work::Sqlite { db: Some(db), .. } = &work else {
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
}

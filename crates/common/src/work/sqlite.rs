//! The `sqlite-*` work's database: built once when the work is prepared, queried by every
//! working message, removed with the last clone of the work.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};

use super::temp_path;

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
    pub(super) expected: (i64, i64),
}

impl Database {
    pub(super) fn create() -> io::Result<Self> {
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

    pub(super) fn query(&self) -> io::Result<()> {
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

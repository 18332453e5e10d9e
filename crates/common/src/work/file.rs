//! The `file-*` work's data file: written once when the work is prepared, read whole by every
//! working message, removed with the last clone of the work.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::temp_path;

/// A file of known size for the `file-*` work, deleted on drop.
#[derive(Debug)]
pub struct DataFile {
    path: PathBuf,
    pub(super) bytes: u64,
}

/// Bytes read per `read` call when serving `file-*` work: the same chunk `std::io::copy` uses.
const FILE_CHUNK: usize = 8 * 1024;

impl DataFile {
    pub(super) fn create(bytes: u64) -> io::Result<Self> {
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

    pub(super) fn read_all(&self) -> io::Result<()> {
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

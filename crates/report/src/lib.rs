//! echo-bench's results as plain data: what `loadgen` writes, what exporters and charts read.
//!
//! A result file is one [`RunResult`] as JSON, written atomically (see [`write_atomic`]). Its
//! `schema` field names the layout; readers refuse a layout they do not know rather than guess.

// No function over 80 lines outside tests (the threshold is in this crate's clippy.toml).
#![warn(clippy::too_many_lines)]

mod find;
mod histogram;
mod io;
mod markdown;
mod merge;
mod repeat;
mod schema;
pub mod stats;
pub mod status;
mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod work;

pub use find::{FindError, Found, find_result_files};
pub use histogram::{Latency, decode_histogram, encode_histogram, new_histogram, write_hgrm};
pub use io::{ReadError, read_result, write_atomic};
pub use markdown::{Row, format_count, format_us, markdown_rows, markdown_table, measured_on};
pub use merge::{MIN_OVERLAP, MergeError, Merged, merge};
pub use repeat::Figure;
pub use schema::*;
pub use table::{Align, Table};
pub use work::work_rank;

//! echo-bench's shared vocabulary: what the servers, loadgen, the result files and the charts all
//! speak, and nothing that runs. Units as people type them ([`units`]), the bytes a client sends
//! and checks ([`pattern`]), the summary a server prints when it stops ([`Summary`]), and the work
//! done per message as a spec ([`WorkSpec`]). Depending on it costs no runtime, no database and
//! no signal handling: those stay in echo-common, with the servers.

pub mod pattern;
mod summary;
pub mod units;
mod work;

pub use summary::{LagSummary, Summary};
pub use work::{How, ParseWorkError, WorkSpec};

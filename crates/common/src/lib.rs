//! What every echo-bench server shares, written once.
//!
//! A server crate supplies only what its runtime makes different: how it accepts, spawns, reads,
//! writes, sleeps and offloads. Everything observable — flags, socket options, the listen backlog,
//! the buffer size, the work done per message, shutdown, the final summary — comes from here, so a
//! difference in the numbers is the runtime's and never the implementation's.

pub mod blocking;
mod config;
mod context;
mod lag;
mod listen;
mod pool;
mod server;
mod shutdown;
mod stats;
pub mod uring;
mod wakers;
pub mod work;

pub use config::Config;
pub use context::{Conn, Context, TICKER_THREAD};
pub use echo_proto::{LagSummary, Summary, pattern, units};
pub use lag::LAG_PERIOD;
pub use listen::bind;
pub use pool::{BlockingPool, Job};
pub use server::{EXIT_UNAVAILABLE, Running, ServeFn, Serves, Target, main, main_from, start};
pub use shutdown::{Shutdown, Tracked};
pub use work::Framer;
pub use work::{How, Work, WorkSpec};

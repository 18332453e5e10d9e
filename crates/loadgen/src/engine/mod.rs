//! The client engine: on each client thread, one readiness loop (mio, that is epoll) drives every
//! connection of the thread, each a small state machine that owns no bytes (the thread's one
//! scratch buffer serves them all; see [`conn`]). Nothing is allocated, no timer registered and no
//! task woken per message, so the load generator costs about what the leanest hand-written epoll
//! client costs (`examples/pingpong.rs`).
//!
//! - [`clock`]: the thread's time in integer nanoseconds.
//! - [`conn`]: one connection's state machine (send, read until `WouldBlock`, verify, account).
//! - [`reply`]: what a sent message and a verified reply count for (pure functions).
//! - [`pacer`]: the open loop's schedule of due connections and its timerfd.
//! - [`deadline`]: per-message timeouts as one scan of a compact array, not a timer each.
//! - [`raw`]: socket calls straight to the kernel.
//! - [`connect`]: a thread's connect phase, every attempt non-blocking in one loop.
//! - [`event_loop`]: a client thread from first connect to its final record.
//! - [`shared`]: what the run's coordinator and the client threads share (phase, window, rate).
//! - [`record`], [`tally`]: what a thread records, and the cheap count behind its histograms.
//! - [`schedule`], [`ramp`]: when an open-loop message is due, under a steady or rising rate.
//! - [`churn`]: connect, exchange, close, again: one cycle's stages and what each records.
//! - [`bind`]: connections spread over several source addresses.

pub mod bind;
pub mod churn;
pub mod clock;
pub mod conn;
pub mod connect;
pub mod deadline;
pub mod event_loop;
pub mod pacer;
pub mod ramp;
pub mod raw;
pub mod record;
pub mod reply;
pub mod schedule;
pub mod shared;
pub mod tally;

use std::time::Duration;

/// Readiness events taken per `epoll_wait`, as the leanest epoll clients do.
pub const EVENTS: usize = 1024;

/// The longest a loop turn waits for readiness: how soon an idle thread sees STOP and scans its
/// deadlines. A millisecond is the timeouts' precision; it costs an idle thread about a
/// thousand cheap wake-ups a second.
pub const TURN: Duration = Duration::from_millis(1);

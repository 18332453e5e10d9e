//! What runs runs: every target in rounds ([`rounds`]), each round's runs folded into medians
//! and intervals ([`repeat`]), and the search for the highest rate that keeps a latency promise
//! ([`capacity`]'s arithmetic, [`search`]'s runs).

pub mod capacity;
pub mod repeat;
pub mod rounds;
pub mod search;

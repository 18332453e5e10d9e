//! Results out: the table, JSON or Markdown on stdout ([`output`]), verdicts between targets and
//! files ([`compare`]), the result files written and found ([`files`]), and one result made of
//! several load hosts' ([`merge`]); all of it written through [`stdout`], which a closed pipe
//! does not upset.

pub mod compare;
pub mod files;
pub mod merge;
pub mod output;
pub mod stdout;

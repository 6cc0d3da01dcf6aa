//! expand: batched knowledge-expansion runs.
//!
//! The modules follow a plan's path through the tool: it is parsed (`plan`),
//! turned into a task graph (`graph`), run (`run`, `steps`, `providers`),
//! reviewed (`review`), consolidated (`consolidate`) and audited (`audit`).
//! `commands` holds one file per subcommand; `main.rs` only starts things.

pub mod audit;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod consolidate;
pub mod draft;
pub mod error;
pub mod fault;
pub mod fsutil;
pub mod graph;
pub mod knowledge;
pub mod markdown;
pub mod plan;
pub mod quality;
pub mod report;
pub mod review;
pub mod steps;
#[doc(hidden)]
pub mod testing;
pub mod workspace;

pub use commands::run as run_cli;
pub mod providers;
pub mod run;

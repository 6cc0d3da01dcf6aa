//! The steps of one runner, in order: knowledge, research, write, drop. The
//! runner (`run::runner`) calls them and does the final step, mark.

pub mod drop;
pub mod knowledge;
pub mod research;
pub mod write;

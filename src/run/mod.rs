//! Stage 3: running a plan. `scheduler` picks and runs batches, `runner` runs one
//! PART through its steps, `state` records what happened in `.expand/`.

pub mod state;

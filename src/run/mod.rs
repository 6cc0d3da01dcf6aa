//! Stage 3: running a plan. `scheduler` runs batches, `runner` runs one PART
//! through its steps, `state` records what happened in `.expand/`.

pub mod runner;
pub mod scheduler;
pub mod state;

use crate::config::Config;
use crate::plan::{Part, Status};
use crate::providers::Written;
use state::{PartStatus, PlanState};

/// Whether a PART still has to run: state decides when it has an entry (a
/// `running` entry is an interrupted attempt); otherwise the plan's own
/// marker (`[✓]`, or "FILE EXISTS" with the file present) says it is done.
pub fn needs_run(part: &Part, state: &PlanState, target_exists: bool) -> bool {
    match state.part(part.number).map(|p| p.status) {
        Some(PartStatus::Done) => false,
        Some(PartStatus::Running | PartStatus::Failed) => true,
        Some(PartStatus::Pending) | None => {
            let plan_done = part.status == Status::Done && (!part.file_exists || target_exists);
            !plan_done
        }
    }
}

/// Cost of a writer call from the price table, when the model has a price.
pub fn cost(cfg: &Config, w: &Written) -> Option<f64> {
    let p = cfg.prices.get(&w.model)?;
    Some(
        w.usage.input_tokens as f64 / 1e6 * p.input_per_mtok
            + w.usage.output_tokens as f64 / 1e6 * p.output_per_mtok,
    )
}

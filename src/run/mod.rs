//! Stage 3: running a plan. `scheduler` runs batches, `runner` runs one PART
//! through its steps, `state` records what happened in `.expand/`.

pub mod execute;
pub mod runner;
pub mod scheduler;
pub mod state;

use std::path::Path;

pub use execute::{execute, Options, RunError, RunReport, Selection, Signal};

use crate::plan::{Part, Status};
use state::{PartStatus, PlanState};

/// The state of `part`, unless it was recorded for another target (the
/// plan was edited to point the PART elsewhere): then it says nothing about
/// this PART.
pub fn state_of<'a>(part: &Part, state: &'a PlanState) -> Option<&'a state::PartState> {
    state
        .part(part.number)
        .filter(|p| p.target.is_none() || p.target == part.target)
}

/// Whether a PART still has to run: state decides when it has an entry (a
/// `running` entry is an interrupted attempt); otherwise the plan's own
/// marker (`[✓]`, or "FILE EXISTS" with the file present under `kdir`) says
/// it is done.
pub fn needs_run(part: &Part, state: &PlanState, kdir: &Path) -> bool {
    match state_of(part, state).map(|p| p.status) {
        // A file that needs review waits for a person, not for another
        // paid attempt (`expand reset --part N` runs it again).
        Some(PartStatus::Done | PartStatus::NeedsReview) => false,
        Some(PartStatus::Running | PartStatus::Failed) => true,
        Some(PartStatus::Pending) | None => {
            let target_exists = || {
                part.target
                    .as_deref()
                    .is_some_and(|t| kdir.join(t).is_file())
            };
            let plan_done = part.status == Status::Done && (!part.file_exists || target_exists());
            !plan_done
        }
    }
}

//! `expand reset PLAN [--part N…]`: mark PARTs pending again, in state and in
//! the plan's ticks. Knowledge files and drops are kept.

use anyhow::{Context, Result};

use crate::error::{bad_input, Code};
use crate::plan;
use crate::run::state::PlanState;
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, name: &str, parts: &[u32]) -> Result<Code> {
    let file = ws.find_plan(name)?;
    let shown = ws.show(&file);
    let _lock = super::lock(ws)?;
    let current = ws.load_plan(&file)?;
    for n in parts {
        if current.part(*n).is_none() {
            return Err(bad_input(format!(
                "PART {n} is not in `{}`",
                shown.display()
            )));
        }
    }
    let chosen: Vec<u32> = if parts.is_empty() {
        current.parts.iter().map(|p| p.number).collect()
    } else {
        parts.to_vec()
    };
    let mut edits = Vec::new();
    for n in &chosen {
        let p = current.part(*n).expect("checked above");
        edits.extend(plan::edit::untick_part(&current, p));
    }
    if !edits.is_empty() {
        let text = plan::edit::apply(&current.text, &edits)?;
        crate::fsutil::atomic_write(&file, &plan::to_bytes(&current, &text))
            .with_context(|| format!("failed to write `{}`", shown.display()))?;
    }
    let mut state = PlanState::load(&ws.state_dir(), &current.slug)?;
    state.slug = current.slug.clone();
    for n in &chosen {
        state.parts.remove(n);
    }
    state
        .save(&ws.state_dir())
        .context("failed to save run state")?;
    println!(
        "{}: {} PART(s) reset to pending: {}",
        shown.display(),
        chosen.len(),
        chosen
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Code::Ok)
}

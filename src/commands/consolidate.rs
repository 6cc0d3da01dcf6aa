//! `expand consolidate`.
use super::Ctx;
use crate::error::Code;
use crate::workspace::Workspace;
use anyhow::Result;
pub fn run(_ws: &Workspace, _ctx: &Ctx, _plan: Option<&str>, _a: bool, _n: bool) -> Result<Code> {
    todo!()
}

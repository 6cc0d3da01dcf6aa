//! `expand review`.
use super::Ctx;
use crate::cli::ReviewWhat;
use crate::error::Code;
use crate::workspace::Workspace;
use anyhow::Result;
pub fn run(_ws: &Workspace, _ctx: &Ctx, _what: ReviewWhat) -> Result<Code> {
    todo!()
}

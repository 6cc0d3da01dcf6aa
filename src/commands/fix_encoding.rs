//! `expand fix-encoding PLAN`: rewrite a mis-encoded plan as clean UTF-8.

use anyhow::{Context, Result};

use crate::error::Code;
use crate::plan::Encoding;
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, name: &str) -> Result<Code> {
    let file = ws.find_plan(name)?;
    let shown = ws.show(&file);
    let plan = crate::plan::load(&file, &shown)?;
    if plan.encoding == Encoding::Utf8 {
        println!("{}: already clean UTF-8; nothing to do", shown.display());
        return Ok(Code::Ok);
    }
    let bytes = crate::plan::encoding::encode(&plan.text, Encoding::Utf8, plan.bom);
    crate::fsutil::atomic_write(&file, &bytes)
        .with_context(|| format!("failed to write `{}`", shown.display()))?;
    println!(
        "{}: repaired {} → utf-8",
        shown.display(),
        plan.encoding.as_str()
    );
    Ok(Code::Ok)
}

//! `expand fix-encoding PLAN`: rewrite a mis-encoded plan as clean UTF-8.

use anyhow::{Context, Result};
use std::io::Write;

use crate::error::Code;
use crate::plan::Encoding;
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, ctx: &super::Ctx, name: &str) -> Result<Code> {
    let file = ws.find_plan(name)?;
    ws.plan_to_change(&file)?;
    let shown = ws.show(&file);
    let plan = ws.load_plan(&file)?;
    if plan.encoding == Encoding::Utf8 {
        if ctx.json {
            let doc = serde_json::json!({"plan": shown, "encoding": "utf-8", "changed": false});
            writeln!(std::io::stdout().lock(), "{doc}")?;
            return Ok(Code::Ok);
        }
        writeln!(
            std::io::stdout().lock(),
            "{}: already clean UTF-8; nothing to do",
            shown.display()
        )?;
        return Ok(Code::Ok);
    }
    let _lock = super::lock(ws)?;
    // Repaired from the file as it is when written, so an edit made in the
    // meantime is kept.
    ws.fs
        .rewrite_once(&file, |bytes| {
            let now = crate::plan::from_bytes(&shown, bytes).map_err(std::io::Error::other)?;
            Ok(Some(crate::plan::encoding::encode(
                &now.text,
                Encoding::Utf8,
                now.bom,
            )))
        })
        .with_context(|| format!("failed to write `{}`", shown.display()))?;
    if ctx.json {
        let doc =
            serde_json::json!({"plan": shown, "encoding": plan.encoding.as_str(), "changed": true});
        writeln!(std::io::stdout().lock(), "{doc}")?;
        return Ok(Code::Ok);
    }
    writeln!(
        std::io::stdout().lock(),
        "{}: repaired {} → utf-8",
        shown.display(),
        plan.encoding.as_str()
    )?;
    Ok(Code::Ok)
}

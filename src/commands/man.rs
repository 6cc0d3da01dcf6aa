//! `expand man`: the manual page, generated from the same definitions as
//! `--help` (clap_mangen), so the two never disagree.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Code;

/// `expand(1)`, then a page per subcommand (`expand-run(1)`, …) in one
/// roff stream: `man -l -` shows them in turn, a packager splits them at
/// each `.TH`.
pub fn run() -> Result<Code> {
    let mut out = Vec::new();
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .context("failed to render the manual page")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("expand-{}", sub.get_name());
        clap_mangen::Man::new(sub.clone().name(name.clone()).bin_name(name))
            .render(&mut out)
            .context("failed to render the manual page")?;
    }
    std::io::stdout()
        .write_all(&out)
        .context("failed to write the manual page")?;
    Ok(Code::Ok)
}

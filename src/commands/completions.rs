//! `expand completions SHELL`.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Code;

pub fn run(shell: clap_complete::Shell) -> Result<Code> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "expand", &mut std::io::stdout());
    Ok(Code::Ok)
}

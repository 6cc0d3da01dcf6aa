use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use expand::cli::Cli;
use expand::error::{code_of, hint_of, Code};

fn main() -> ExitCode {
    expand::clock::init();
    let cli = Cli::parse();
    expand::report::init_logging(cli.verbose, cli.quiet, cli.color);
    match expand::run_cli(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            // A closed stdout (`expand … | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .map(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    .unwrap_or(false)
            }) {
                return Code::Ok.into();
            }
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {e:#}");
            if let Some(h) = hint_of(&e) {
                let _ = writeln!(err, "hint: {h}");
            }
            code_of(&e).into()
        }
    }
}

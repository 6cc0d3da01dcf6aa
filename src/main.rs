use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use expand::cli::Cli;
use expand::error::{code_of, hint_of, Code};

fn main() -> ExitCode {
    expand::clock::init();
    let json_asked = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are output, not errors; a usage error under
        // --json is one JSON object like every other error.
        Err(e) if json_asked && e.use_stderr() => {
            let message = e.kind().to_string();
            let detail = e.render().to_string();
            let doc = serde_json::json!({"error": {
                "code": 2,
                "message": message,
                "detail": detail.trim_end(),
            }});
            let _ = writeln!(std::io::stderr().lock(), "{doc}");
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let json = cli.json;
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
            let code = code_of(&e);
            if json {
                let doc = serde_json::json!({"error": {
                    "code": code as u8,
                    "message": format!("{e:#}"),
                    "hint": hint_of(&e),
                }});
                let _ = writeln!(err, "{doc}");
                return code.into();
            }
            let _ = writeln!(err, "error: {e:#}");
            if let Some(h) = hint_of(&e) {
                let _ = writeln!(err, "hint: {h}");
            }
            code.into()
        }
    }
}

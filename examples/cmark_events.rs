//! The baseline of the whole-process parse bar (SPEC §10): read each file
//! named on the command line and iterate its pulldown-cmark events with
//! offsets, as expand's parser does, and nothing more. `benches/run.rs`
//! times it against `expand validate` of the same files.

use std::hint::black_box;

use pulldown_cmark::{Options, Parser};

fn main() {
    // The options expand's parser uses (src/plan/blocks.rs).
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events = 0usize;
    for path in std::env::args_os().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: {e}", path.to_string_lossy());
                std::process::exit(2);
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        for (ev, range) in Parser::new_ext(&text, opts).into_offset_iter() {
            black_box((&ev, range));
            events += 1;
        }
    }
    println!("{events} events");
}

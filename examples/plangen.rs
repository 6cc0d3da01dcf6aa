//! Print a generated plan (the benches' `benches/support/plangen.rs`), to
//! reproduce a scale figure by hand:
//!
//! ```sh
//! cargo run --release --example plangen -- 100000 lean > plans/big.md
//! cargo run --release --example plangen -- 1000 full batches=4 > plans/k.md
//! ```
//!
//! Arguments: the number of PARTs, then any of `lean` (the default) or
//! `full`, `batches=N` (declared batches of N PARTs), `nodeps`.

#[path = "../benches/support/plangen.rs"]
mod plangen;

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let parts = args.next().and_then(|a| a.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: plangen PARTS [lean|full] [batches=N] [nodeps]");
        std::process::exit(2)
    });
    let mut shape = plangen::Shape::lean(parts);
    for a in args {
        match a.as_str() {
            "lean" => {}
            "full" => shape = plangen::Shape::full(parts),
            "nodeps" => shape = shape.without_deps(),
            _ => match a.strip_prefix("batches=").and_then(|n| n.parse().ok()) {
                Some(n) => shape = shape.declared(n),
                None => {
                    eprintln!("plangen: unknown argument `{a}`");
                    std::process::exit(2)
                }
            },
        }
    }
    let _ = std::io::stdout().lock().write_all(shape.plan().as_bytes());
}

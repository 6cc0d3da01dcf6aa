//! Tells the tests whether `../shared` (or `$EXPAND_SHARED`) holds the
//! fixtures: tests that need it are then `ignored` with the reason, so a
//! run without it says so in its summary instead of reporting them `ok`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(has_shared)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=EXPAND_SHARED");
    let root = match std::env::var_os("EXPAND_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../shared"),
    };
    let fixtures = root.join("fixtures");
    if fixtures.is_dir() {
        println!("cargo:rustc-cfg=has_shared");
        // Watched while it exists: removing it reruns this script. (A
        // missing folder is not watched, which would rerun it on every
        // build; set EXPAND_SHARED, or touch build.rs, once it appears.)
        println!("cargo:rerun-if-changed={}", fixtures.display());
    }
}

//! A small builder for driving the real `expand` binary in a temporary
//! workspace: write files, run a command with `-C <workspace>`, look at what
//! it printed and how it exited.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

/// A temporary workspace folder, removed on drop.
pub struct Ws {
    dir: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Self {
        Ws {
            dir: tempfile::Builder::new()
                .prefix("expand-it-")
                .tempdir()
                .expect("create temp workspace"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The workspace's files as expand reaches them.
    pub fn jail(&self) -> expand::workspace::jail::Jail {
        expand::workspace::jail::Jail::open(&self.path().canonicalize().expect("canonical"))
            .expect("open the workspace")
    }

    /// Write `bytes` to `rel`, creating folders.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> &Self {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// Copy a file from outside into the workspace at `rel`.
    pub fn copy(&self, src: &Path, rel: &str) -> &Self {
        let bytes = std::fs::read(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
        self.write(rel, bytes)
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// `expand -C <ws> <args…>`.
    pub fn expand(&self, args: &[&str]) -> Out {
        self.expand_env(args, &[])
    }

    /// `expand -C <ws> <args…>` with `env` set (after the `EXPAND_*` clean-up,
    /// so a test may pass `EXPAND_FAULT` or a config override on purpose).
    pub fn expand_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = expand_cmd();
        cmd.arg("-C")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .current_dir(self.path());
        Out::from(cmd.output().expect("run expand"))
    }

    /// `expand <args…>` without `-C` (for `init DIR`, `completions`).
    pub fn expand_bare(&self, args: &[&str]) -> Out {
        let mut cmd = expand_cmd();
        cmd.args(args).env("NO_COLOR", "1").current_dir(self.path());
        Out::from(cmd.output().expect("run expand"))
    }

    /// Every file under the workspace (relative path → sha256), folders too,
    /// so a test can prove a command changed nothing.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        for e in walkdir::WalkDir::new(self.path()).sort_by_file_name() {
            let e = e.expect("walk workspace");
            let rel = e.path().strip_prefix(self.path()).unwrap().to_path_buf();
            let h = if e.file_type().is_file() {
                let bytes = std::fs::read(e.path()).expect("read file");
                format!("{:x}", Sha256::digest(&bytes))
            } else {
                "dir".to_string()
            };
            out.insert(rel, h);
        }
        out
    }
}

/// `expand` with none of the test process's `EXPAND_*` variables: expand
/// reads the ones naming config keys as overrides, so a developer's
/// `EXPAND_BATCH_SIZE` (or a test's `EXPAND_FAULT`) must not reach it.
/// Every test that runs the binary starts from this (or [`expand_std`]).
pub fn expand_cmd() -> Command {
    let mut cmd = Command::cargo_bin("expand").expect("the expand binary is built");
    for k in expand_vars() {
        cmd.env_remove(k);
    }
    cmd
}

/// [`expand_cmd`] as a `std::process::Command`, for tests that spawn and
/// kill the process.
pub fn expand_std() -> std::process::Command {
    use assert_cmd::cargo::CommandCargoExt;
    let mut cmd = std::process::Command::cargo_bin("expand").expect("the expand binary is built");
    for k in expand_vars() {
        cmd.env_remove(k);
    }
    cmd
}

fn expand_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k.to_string_lossy().starts_with("EXPAND_"))
        .collect()
}

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl From<std::process::Output> for Out {
    fn from(o: std::process::Output) -> Self {
        Out {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }
}

impl Out {
    /// Assert the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(self, want: i32) -> Self {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// `../shared` (or `$EXPAND_SHARED`), when it is there.
pub fn shared() -> Option<PathBuf> {
    let p = shared_root();
    p.join("fixtures").is_dir().then_some(p)
}

/// Where the shared folder would be: `$EXPAND_SHARED`, else `../shared`.
pub fn shared_root() -> PathBuf {
    match std::env::var_os("EXPAND_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// The shared folder, or print why the test is skipped and return.
macro_rules! shared_or_skip {
    () => {
        match $crate::util::shared() {
            Some(p) => p,
            None => {
                eprintln!("skipped: ../shared/fixtures not found (set EXPAND_SHARED)");
                return;
            }
        }
    };
}
pub(crate) use shared_or_skip;

/// A file of `../shared/fixtures/seeds` by its number prefix (`"000"`).
pub fn seed(shared: &Path, prefix: &str) -> PathBuf {
    find(&shared.join("fixtures/seeds"), prefix)
}

/// A file of `../shared/fixtures/real` whose name contains `needle`.
pub fn real(shared: &Path, needle: &str) -> PathBuf {
    find(&shared.join("fixtures/real"), needle)
}

fn find(dir: &Path, needle: &str) -> PathBuf {
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(needle))
        .collect();
    hits.sort();
    assert_eq!(hits.len(), 1, "one fixture matching {needle}: {hits:?}");
    hits.pop().unwrap()
}

/// Every plan of the shared fixtures (seeds and real), sorted.
pub fn all_fixtures(shared: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["fixtures/seeds", "fixtures/real"] {
        for e in std::fs::read_dir(shared.join(sub)).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if ext == "md" || ext == "txt" {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// The file name of `p` as a `plans/…` path.
pub fn plans_rel(p: &Path) -> String {
    format!("plans/{}", p.file_name().unwrap().to_string_lossy())
}

/// The plan object of `validate --format json` whose path ends with `name`.
pub fn plan_of<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["plans"]
        .as_array()
        .expect("plans array")
        .iter()
        .find(|p| p["path"].as_str().unwrap_or("").contains(name))
        .unwrap_or_else(|| panic!("no plan {name} in output"))
}

/// The PART object numbered `n` of a plan JSON.
pub fn part_of(plan: &serde_json::Value, n: u64) -> &serde_json::Value {
    plan["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["number"] == n)
        .unwrap_or_else(|| panic!("no PART {n}"))
}

/// The bench base extracted into a temporary folder (never the repository).
pub fn extract_bench(shared: &std::path::Path) -> (tempfile::TempDir, std::path::PathBuf) {
    extract_tarball(&shared.join("bench/karpathy-deep-oracle.tar.gz"))
}

/// The bench tarball `tar` extracted into a temporary folder: (the folder,
/// the base's root in it).
pub fn extract_tarball(tar: &std::path::Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let st = std::process::Command::new("tar")
        .arg("xzf")
        .arg(tar)
        .arg("-C")
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success(), "tar xzf {}", tar.display());
    let root = d.path().join("karpathy-deep-oracle");
    (d, root)
}

/// Requests a mock server received so far.
pub async fn count(server: &wiremock::MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// The error diagnostics of one plan of `validate --format json`.
pub fn errors(plan: &serde_json::Value) -> Vec<&serde_json::Value> {
    plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .collect()
}

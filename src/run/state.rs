//! Run state in `.expand/state/`: per plan, per PART status, attempts, error,
//! timings, outputs, tokens and cost; which files expand wrote, by path and
//! content. Also the workspace lock.
//!
//! A plan's state belongs to that plan, not to its file name: it records the
//! plan's title and each PART's target, and a plan under a used name whose
//! title differs starts afresh (the old state is kept aside), as does a PART
//! whose target changed.
//!
//! "expand wrote this file" is a claim on a path *and* its bytes (sha256),
//! recorded durably before the file is written: a file is replaced without
//! `--force` only when its bytes are exactly ones expand wrote there.
//!
//! A plan's state is a snapshot, `<slug>.json`, written atomically, and a
//! journal, `<slug>.journal`, of the changes a run made since: one JSON line
//! per durable change, appended and `fdatasync`ed, holding the whole new
//! state of each PART it changed and a sequence number. Loading replays the
//! journal's records newer than the snapshot; a record cut short by a crash
//! (no final newline) was never reported written and is ignored. A run folds
//! the journal into the snapshot when it starts and when it ends, so a
//! change costs an append to an open file instead of a new file, an fsync
//! and a rename of the whole state.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::providers::cost::Spent;
use crate::providers::Usage;
use crate::workspace::jail::Jail;

pub const VERSION: u32 = 1;

/// Where plans' states live, relative to the workspace.
pub const STATE_DIR: &str = ".expand/state";

/// Where the text each PART's research retrieved is kept, per URL (as
/// `quality::url_key` writes it): review checks quotes of web pages
/// against it as the run did.
pub const PAGES_DIR: &str = ".expand/pages";

/// Workspace-relative path of PART `part`'s retrieved pages.
pub fn pages_path(slug: &str, part: u32) -> String {
    format!("{PAGES_DIR}/{slug}/part-{part}.json")
}

/// Keep the pages PART `part`'s research retrieved (durably: a PART
/// recorded done has them). No pages (research that found no page text,
/// or a knowledge-only search) keep no file: a missing file and an empty
/// one read alike, and an earlier attempt's pages are removed rather than
/// left to vouch for this attempt's quotes.
pub fn save_pages(
    fs: &Jail,
    slug: &str,
    part: u32,
    pages: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let path = pages_path(slug, part);
    if pages.is_empty() {
        return match fs.remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let bytes = serde_json::to_vec(pages).expect("a map of strings serializes");
    fs.write(path, &bytes)
}

/// The pages kept for PART `part`, when there are.
pub fn load_pages(fs: &Jail, slug: &str, part: u32) -> Option<BTreeMap<String, String>> {
    let text = fs.read_to_string(pages_path(slug, part)).ok()?;
    serde_json::from_str(&text).ok()
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PartStatus {
    #[default]
    Pending,
    /// Started and not finished: after a crash, the next run starts it again.
    Running,
    Done,
    /// A file was written but still fails the quality check after the one
    /// repair request: not ticked, not consolidated, until a person accepts
    /// it (`expand review part N --accept`).
    #[serde(rename = "needs-review")]
    NeedsReview,
    Failed,
}

impl PartStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartStatus::Pending => "pending",
            PartStatus::Running => "running",
            PartStatus::Done => "done",
            PartStatus::NeedsReview => "needs-review",
            PartStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PartState {
    pub status: PartStatus,
    pub batch: u32,
    pub attempts: u32,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Knowledge-relative path of the PART's file, recorded when an attempt
    /// starts: a state entry for another target is not this PART's.
    pub target: Option<String>,
    pub target_lines: Option<usize>,
    /// Workspace-relative path of the KNOWLEDGE-DROP file.
    pub drop: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
    pub cost: Option<f64>,
    /// Requests answered over the network, by provider, over every attempt
    /// and run of this PART: what per-request billing (Bright Data) counts.
    /// Answers from the cache are not in it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: crate::providers::meter::Requests,
    /// URLs and knowledge files the writer was given.
    pub sources: Vec<String>,
    /// URLs the research step retrieved (search results and fetched pages):
    /// what a cited URL is checked against. `None` in states from before.
    pub seen_urls: Option<Vec<String>>,
    /// Knowledge files the plan's CITE lines named when the file was
    /// written: `review` checks the file against them again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub must_cite: Vec<String>,
    /// What the quality check still found wrong with the file written.
    pub problems: Vec<String>,
    /// Citations of the file written that hold up, and that point nowhere.
    pub verified: usize,
    pub fabricated: usize,
    /// When a person accepted a file that needs review (RFC 3339).
    pub accepted_at: Option<String>,
}

impl PartState {
    /// The Bright Data requests this PART sent (billed per request).
    pub fn brightdata_requests(&self) -> u64 {
        self.requests
            .get(crate::providers::brightdata::NAME)
            .copied()
            .unwrap_or(0)
    }

    /// Done, or accepted by a person although it needs review: its file
    /// counts as the PART's result.
    pub fn finished(&self) -> bool {
        self.status == PartStatus::Done
            || (self.status == PartStatus::NeedsReview && self.accepted_at.is_some())
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PlanState {
    pub version: u32,
    pub slug: String,
    /// Workspace-relative path of the plan when it last ran.
    pub plan_path: String,
    /// The plan's title when it last ran: a different plan under the same
    /// file name does not inherit this state.
    pub plan_title: Option<String>,
    /// The last journal record this state holds (records up to it are skipped).
    pub seq: u64,
    pub parts: BTreeMap<u32, PartState>,
    /// Files expand wrote (workspace-relative path → sha256 of each content
    /// it wrote there, the last one last).
    pub owned: BTreeMap<String, Vec<String>>,
}

/// One line of the journal: the new state of the PARTs a change touched,
/// and the files it claimed.
#[derive(Serialize, Deserialize)]
struct Record {
    seq: u64,
    parts: BTreeMap<u32, PartState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    claims: Vec<(String, String)>,
}

/// The sha256 of `bytes`, in hex: what ownership claims hold.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How many contents are remembered per path: enough for every attempt
/// that can still be interrupted, without growing forever.
const CLAIMS_PER_PATH: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("failed to read run state `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("run state `{path}` is damaged: {message}")]
    Corrupt {
        path: PathBuf,
        message: String,
        slug: String,
    },
}

impl StateError {
    /// The way out: a damaged state is rebuilt from what is on disk.
    pub fn hint(&self) -> Option<String> {
        match self {
            StateError::Corrupt { slug, .. } => Some(format!(
                "`expand reset {slug} --rebuild-state` rebuilds it from the plan's ticks, \
                 its drops and the files on disk (the damaged files are kept beside it)"
            )),
            StateError::Io { .. } => None,
        }
    }
}

impl PlanState {
    /// The snapshot's path, relative to the workspace.
    pub fn path(slug: &str) -> PathBuf {
        PathBuf::from(STATE_DIR).join(format!("{slug}.json"))
    }

    /// The journal's path, relative to the workspace.
    pub fn journal_path(slug: &str) -> PathBuf {
        PathBuf::from(STATE_DIR).join(format!("{slug}.journal"))
    }

    /// The saved state of a plan (snapshot and journal), or an empty one.
    pub fn load(fs: &Jail, slug: &str) -> Result<PlanState, StateError> {
        let path = Self::path(slug);
        let corrupt = |path: &Path, message: String| StateError::Corrupt {
            path: path.to_path_buf(),
            message,
            slug: slug.to_string(),
        };
        let mut state = match fs.read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e.to_string()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PlanState {
                version: VERSION,
                slug: slug.to_string(),
                ..PlanState::default()
            },
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let path = Self::journal_path(slug);
        match fs.read(&path) {
            Ok(bytes) => state
                .replay(&bytes)
                .map_err(|message| corrupt(&path, message))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Io { path, source }),
        }
        Ok(state)
    }

    /// The state of `plan` (its slug and title): the saved one when it
    /// belongs to this plan; else an empty one that keeps only which files
    /// expand wrote, with `true` to say the saved one was another plan's.
    pub fn load_for(fs: &Jail, slug: &str, title: &str) -> Result<(PlanState, bool), StateError> {
        let saved = Self::load(fs, slug)?;
        if saved.belongs_to(title) {
            return Ok((saved, false));
        }
        let fresh = PlanState {
            version: VERSION,
            slug: slug.to_string(),
            seq: saved.seq,
            owned: saved.owned,
            ..PlanState::default()
        };
        Ok((fresh, true))
    }

    /// Whether this saved state is the state of a plan titled `title`.
    pub fn belongs_to(&self, title: &str) -> bool {
        match &self.plan_title {
            Some(t) => t == title,
            // Written before titles were recorded: nothing says otherwise.
            None => true,
        }
    }

    /// Keep the saved state of another plan that used this name, under
    /// `.expand/state/replaced/`, before this plan's state takes its place.
    pub fn set_aside(fs: &Jail, slug: &str) -> std::io::Result<Option<PathBuf>> {
        let from = Self::path(slug);
        if !fs.exists(&from) {
            return Ok(None);
        }
        let stamp = crate::clock::stamp_compact(crate::clock::now());
        let to = PathBuf::from(STATE_DIR)
            .join("replaced")
            .join(format!("{slug}-{stamp}.json"));
        fs.create_dir_all(to.parent().expect("has a parent"))?;
        // Fold the journal in first, so the kept copy is whole.
        let whole = Self::load(fs, slug).map_err(std::io::Error::other)?;
        let mut bytes = serde_json::to_vec_pretty(&whole).expect("state serializes");
        bytes.push(b'\n');
        fs.write(&to, &bytes)?;
        Ok(Some(to))
    }

    /// Apply the journal's records newer than this state. Only whole lines
    /// count: the last one may have been cut short by a crash.
    fn replay(&mut self, journal: &[u8]) -> Result<(), String> {
        let whole = journal
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(&journal[..0], |end| &journal[..end]);
        for (i, line) in whole.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let r: Record =
                serde_json::from_slice(line).map_err(|e| format!("journal line {}: {e}", i + 1))?;
            if r.seq > self.seq {
                self.seq = r.seq;
                self.parts.extend(r.parts);
                for (path, hash) in r.claims {
                    self.claim(path, hash);
                }
            }
        }
        Ok(())
    }

    /// Record that expand is about to write (or wrote) `hash` at `path`.
    pub fn claim(&mut self, path: String, hash: String) {
        let v = self.owned.entry(path).or_default();
        v.retain(|h| *h != hash);
        v.push(hash);
        if v.len() > CLAIMS_PER_PATH {
            v.drain(..v.len() - CLAIMS_PER_PATH);
        }
    }

    /// Whether `bytes` at workspace-relative `path` are exactly what expand
    /// wrote there.
    pub fn owns(&self, path: &str, bytes: &[u8]) -> bool {
        self.owned
            .get(path)
            .is_some_and(|v| v.contains(&content_hash(bytes)))
    }

    /// Write the whole state as the snapshot, atomically, and drop the
    /// journal it now holds. A crash between the two leaves a journal whose
    /// records the snapshot's `seq` already covers.
    pub fn save(&self, fs: &Jail) -> std::io::Result<()> {
        let path = Self::path(&self.slug);
        let mut bytes = serde_json::to_vec_pretty(self).expect("state serializes");
        bytes.push(b'\n');
        fs.write(&path, &bytes)?;
        match fs.remove_file(Self::journal_path(&self.slug)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Tokens and dollars every run of the plan spent, over all its PARTs.
    pub fn spent(&self) -> Spent {
        Spent {
            tokens: self.parts.values().map(|p| p.usage.total()).sum(),
            cost: self.parts.values().filter_map(|p| p.cost).sum(),
        }
    }

    pub fn part(&self, n: u32) -> Option<&PartState> {
        self.parts.get(&n)
    }

    pub fn part_mut(&mut self, n: u32) -> &mut PartState {
        self.parts.entry(n).or_default()
    }
}

/// A run's open journal: appends a record per durable change.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    /// Bytes of whole records in the file: a failed append is cut back to it,
    /// so a later record never lands on the end of a half-written one.
    len: u64,
    line: Vec<u8>,
    /// `fdatasync`s made, for tests and curious readers.
    pub syncs: u32,
}

impl Journal {
    /// Fold any journal into the snapshot (`state` as loaded), then start an
    /// empty journal for this run. Call with the workspace lock held.
    pub fn open(fs: &Jail, state: &PlanState) -> std::io::Result<Journal> {
        state.save(fs)?;
        let rel = PlanState::journal_path(&state.slug);
        let file = fs.open_append(&rel)?;
        // The new name must survive a crash as the records written to it do.
        fs.sync_dir(STATE_DIR)?;
        let len = file.metadata()?.len();
        Ok(Journal {
            file,
            path: fs.root().join(rel),
            len,
            line: Vec::new(),
            syncs: 0,
        })
    }

    /// Append the new state of `parts` as record `seq`, and with `sync` make
    /// it (and every record before it) durable before returning.
    pub fn append(
        &mut self,
        seq: u64,
        parts: BTreeMap<u32, PartState>,
        claims: Vec<(String, String)>,
        sync: bool,
    ) -> std::io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, &Record { seq, parts, claims })
            .expect("state serializes");
        self.line.push(b'\n');
        let written = self.file.write_all(&self.line).and_then(|()| {
            if sync {
                self.syncs += 1;
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.len += self.line.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    /// Make every record appended so far durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.syncs += 1;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Group commit for the state journal. A durable record costs an append and
/// an `fdatasync`; PARTs that change the state while another PART is writing
/// it wait (without holding a runtime thread) and are written together by the
/// next writer instead of queuing for a record each. Every `save` still
/// returns only once a record holding its change is as durable as asked.
pub struct StateCommit {
    /// Changes made to the state so far, counted under its lock.
    changes: AtomicU64,
    /// PARTs changed since the last record, and files claimed, collected
    /// under the state lock.
    dirty: Mutex<Dirty>,
    /// One writer at a time.
    committed: tokio::sync::Mutex<Committed>,
    path: PathBuf,
}

struct Committed {
    journal: Journal,
    /// Changes the journal holds, and of those, the ones synced to disk.
    appended: u64,
    synced: u64,
}

/// PARTs changed since the last record, and `(path, sha256)` claims made.
type Dirty = (BTreeSet<u32>, Vec<(String, String)>);

/// How far a state change must get before `StateCommit::save` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk: the outcome of a PART, or the files it is about to create.
    Synced,
    /// In the journal, synced by the next durable change: a PART has
    /// started. Lost in a power cut, it leaves the PART as it was (pending,
    /// to run again), which is also what the recorded start would lead to.
    Appended,
}

impl StateCommit {
    pub fn new(journal: Journal) -> StateCommit {
        StateCommit {
            changes: AtomicU64::new(0),
            dirty: Mutex::default(),
            path: journal.path().to_path_buf(),
            committed: tokio::sync::Mutex::new(Committed {
                journal,
                appended: 0,
                synced: 0,
            }),
        }
    }

    /// The journal's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Change PART `number` of `state` with `f`, and return once a journal
    /// record holding the change is as durable as `durability` asks.
    pub async fn save(
        &self,
        state: &Mutex<PlanState>,
        number: u32,
        durability: Durability,
        f: impl FnOnce(&mut PartState),
    ) -> std::io::Result<()> {
        self.save_claiming(state, number, durability, Vec::new(), f)
            .await
    }

    /// Like [`StateCommit::save`], also claiming `(path, sha256)` pairs: the
    /// files this PART is about to write.
    pub async fn save_claiming(
        &self,
        state: &Mutex<PlanState>,
        number: u32,
        durability: Durability,
        claims: Vec<(String, String)>,
        f: impl FnOnce(&mut PartState),
    ) -> std::io::Result<()> {
        let mine = {
            let mut st = state.lock().expect("state lock");
            f(st.part_mut(number));
            for (p, h) in &claims {
                st.claim(p.clone(), h.clone());
            }
            let mut dirty = self.dirty.lock().expect("dirty lock");
            dirty.0.insert(number);
            dirty.1.extend(claims);
            self.changes.fetch_add(1, Ordering::Relaxed) + 1
        };
        let mut c = self.committed.lock().await;
        let sync = durability == Durability::Synced;
        if c.synced >= mine || (!sync && c.appended >= mine) {
            // Written by another PART while this one waited.
            return Ok(());
        }
        if c.appended >= mine {
            // Appended by another PART, without a sync: one makes it durable.
            c.journal.sync()?;
            c.synced = c.appended;
            return Ok(());
        }
        // Take what changed, then write outside the state lock: other PARTs
        // go on changing it.
        let (dirty, parts, claims, upto, seq) = {
            let mut st = state.lock().expect("state lock");
            let (dirty, claims) = std::mem::take(&mut *self.dirty.lock().expect("dirty lock"));
            let parts: BTreeMap<u32, PartState> = dirty
                .iter()
                .filter_map(|n| st.part(*n).map(|p| (*n, p.clone())))
                .collect();
            st.seq += 1;
            (
                dirty,
                parts,
                claims,
                self.changes.load(Ordering::Relaxed),
                st.seq,
            )
        };
        if let Err(e) = c.journal.append(seq, parts, claims.clone(), sync) {
            // The next record carries these PARTs and claims again.
            let mut d = self.dirty.lock().expect("dirty lock");
            d.0.extend(dirty);
            d.1.extend(claims);
            return Err(e);
        }
        c.appended = upto;
        if sync {
            c.synced = upto;
        }
        Ok(())
    }
}

/// An exclusive lock on the workspace, held while a command changes it.
///
/// It is an OS advisory lock (`flock`) on the workspace folder itself, not
/// on a file in it: deleting `.expand/` or any file in it cannot let a second
/// run in, and the OS releases it when the process ends however it ends (a
/// `kill -9` never leaves a stale lock). `.expand/lock` only tells people
/// (and the busy message) which process holds it and since when.
pub struct Lock {
    _held: std::fs::File,
}

/// Who holds the lock, as its holder wrote it in `.expand/lock`.
#[derive(Debug, Clone, Default)]
pub struct Holder {
    pub pid: Option<u32>,
    /// RFC 3339.
    pub since: Option<String>,
}

impl Holder {
    /// How long the holder has held the lock, as people say it ("4 min").
    pub fn held_for(&self) -> Option<String> {
        let since = time::OffsetDateTime::parse(
            self.since.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        let s = (crate::clock::now() - since).whole_seconds().max(0);
        Some(match s {
            0..=59 => format!("{s} s"),
            60..=3599 => format!("{} min", s / 60),
            _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
        })
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.pid, self.held_for(), &self.since) {
            (Some(p), Some(d), Some(s)) => write!(f, "pid {p}, running for {d}, since {s}"),
            (Some(p), None, Some(s)) => write!(f, "pid {p}, since {s}"),
            (Some(p), _, None) => write!(f, "pid {p}"),
            _ => write!(f, "an unknown process"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the workspace is locked by another expand process ({0})")]
    Busy(Holder),
    #[error("failed to lock the workspace `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The information file beside the lock.
pub const LOCK_INFO: &str = ".expand/lock";

impl Lock {
    pub fn acquire(fs: &Jail) -> Result<Lock, LockError> {
        use fs4::fs_std::FileExt;
        let io = |path: &str| {
            let path = fs.root().join(path);
            move |source| LockError::Io { path, source }
        };
        fs.create_dir_all(".expand").map_err(io(".expand"))?;
        // Unix locks the folder; elsewhere a folder cannot be opened as a
        // file, and the information file is locked instead.
        #[cfg(unix)]
        let held = fs.open_dir_file(".").map_err(io("."))?;
        #[cfg(not(unix))]
        let held = fs.open_rw(LOCK_INFO).map_err(io(LOCK_INFO))?;
        match FileExt::try_lock_exclusive(&held) {
            Ok(true) => {}
            Ok(false) => return Err(LockError::Busy(Lock::holder(fs))),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(LockError::Busy(Lock::holder(fs)))
            }
            Err(source) => {
                return Err(LockError::Io {
                    path: fs.root().to_path_buf(),
                    source,
                })
            }
        }
        // For people who look, and for the busy message of the next one.
        let info = format!(
            "pid {}\nsince {}\n",
            std::process::id(),
            crate::clock::rfc3339(crate::clock::now())
        );
        #[cfg(unix)]
        let _ = fs.write_unsynced(LOCK_INFO, info.as_bytes());
        #[cfg(not(unix))]
        {
            use std::io::{Seek, Write};
            let mut f = &held;
            let _ = f.set_len(0);
            let _ = f.seek(std::io::SeekFrom::Start(0));
            let _ = f.write_all(info.as_bytes());
        }
        Ok(Lock { _held: held })
    }

    /// The process holding the lock now, if one does: `status` tells a
    /// running PART from one a dead run left. The pid `.expand/lock` names
    /// must be alive (cheap), and then the lock really taken (a pid can be
    /// reused): a shared lock that cannot be had says so. The probe is
    /// only made for a live pid, so it never races a run starting.
    pub fn live_holder(fs: &Jail) -> Option<Holder> {
        use fs4::fs_std::FileExt;
        let h = Lock::holder(fs);
        let pid = h.pid?;
        if pid == std::process::id() || !process_alive(pid) {
            return None;
        }
        #[cfg(unix)]
        let probe = fs.open_dir_file(".").ok()?;
        #[cfg(not(unix))]
        let probe = fs.open_rw(LOCK_INFO).ok()?;
        match FileExt::try_lock_shared(&probe) {
            Ok(true) => {
                let _ = FileExt::unlock(&probe);
                None
            }
            _ => Some(h),
        }
    }

    /// Who holds the lock, as far as `.expand/lock` says.
    pub fn holder(fs: &Jail) -> Holder {
        let text = fs.read_to_string(LOCK_INFO).unwrap_or_default();
        let mut h = Holder::default();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("pid ") {
                h.pid = p.trim().parse().ok();
            } else if let Some(s) = line.strip_prefix("since ") {
                h.since = Some(s.trim().to_string());
            }
        }
        h
    }
}

/// Whether process `pid` exists (signal 0 checks without sending).
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only checks the pid.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_lock_is_exclusive() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let mut s = PlanState::load(&fs, "p").unwrap();
        s.part_mut(3).status = PartStatus::Done;
        s.save(&fs).unwrap();
        assert_eq!(PlanState::load(&fs, "p").unwrap(), s);
        let l = Lock::acquire(&fs).unwrap();
        assert!(matches!(Lock::acquire(&fs), Err(LockError::Busy(_))));
        drop(l);
        assert!(Lock::acquire(&fs).is_ok());
    }

    #[test]
    fn pages_are_kept_and_an_attempt_without_pages_removes_the_last_ones() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        fs.create_dir_all(".expand/pages/p").unwrap();
        let pages: BTreeMap<String, String> =
            [("https://a.example/x".to_string(), "page text".to_string())].into();
        save_pages(&fs, "p", 2, &pages).unwrap();
        assert_eq!(load_pages(&fs, "p", 2), Some(pages));
        save_pages(&fs, "p", 2, &BTreeMap::new()).unwrap();
        assert_eq!(load_pages(&fs, "p", 2), None);
        assert!(!fs.exists(pages_path("p", 2)));
        // Nothing to remove is no error.
        save_pages(&fs, "p", 3, &BTreeMap::new()).unwrap();
    }

    fn part(status: PartStatus, attempts: u32) -> PartState {
        PartState {
            status,
            attempts,
            ..PartState::default()
        }
    }

    /// What a run leaves after a crash: the snapshot it started from and
    /// the records it appended, the last one cut short.
    #[test]
    fn journal_replays_whole_records_over_the_snapshot() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let mut s = PlanState::load(&fs, "p").unwrap();
        s.part_mut(1).status = PartStatus::Done;
        let mut j = Journal::open(&fs, &s).unwrap();
        j.append(
            1,
            BTreeMap::from([(2, part(PartStatus::Running, 1))]),
            vec![],
            false,
        )
        .unwrap();
        j.append(
            2,
            BTreeMap::from([
                (2, part(PartStatus::Done, 1)),
                (3, part(PartStatus::Running, 1)),
            ]),
            vec![],
            true,
        )
        .unwrap();
        // A crash in the middle of a third record.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap();
        f.write_all(br#"{"seq":3,"parts":{"3":{"status":"do"#)
            .unwrap();
        let got = PlanState::load(&fs, "p").unwrap();
        assert_eq!(got.seq, 2);
        assert_eq!(got.part(1).unwrap().status, PartStatus::Done);
        assert_eq!(got.part(2).unwrap().status, PartStatus::Done);
        assert_eq!(got.part(3).unwrap().status, PartStatus::Running);

        // The next run folds it into the snapshot and starts afresh.
        let j2 = Journal::open(&fs, &got).unwrap();
        assert_eq!(std::fs::metadata(j2.path()).unwrap().len(), 0);
        assert_eq!(PlanState::load(&fs, "p").unwrap(), got);
    }

    /// A snapshot saved after the journal was loaded wins over it, even when
    /// a crash kept the journal from being removed (`reset` after a run).
    #[test]
    fn a_newer_snapshot_is_not_undone_by_an_old_journal() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let s = PlanState::load(&fs, "p").unwrap();
        let mut j = Journal::open(&fs, &s).unwrap();
        j.append(
            1,
            BTreeMap::from([(4, part(PartStatus::Done, 1))]),
            vec![],
            true,
        )
        .unwrap();
        let journal = std::fs::read(j.path()).unwrap();
        let mut s = PlanState::load(&fs, "p").unwrap();
        assert_eq!(s.seq, 1);
        s.parts.remove(&4);
        s.save(&fs).unwrap();
        assert!(!j.path().exists(), "save drops the journal it folded in");
        std::fs::write(j.path(), journal).unwrap();
        assert!(PlanState::load(&fs, "p").unwrap().part(4).is_none());
    }

    #[test]
    fn a_damaged_journal_line_is_an_error_naming_the_line() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let s = PlanState::load(&fs, "p").unwrap();
        let j = Journal::open(&fs, &s).unwrap();
        std::fs::write(j.path(), "{\"seq\":1,\"parts\":{}}\nnot json\n").unwrap();
        let e = PlanState::load(&fs, "p").unwrap_err().to_string();
        assert!(e.contains("p.journal") && e.contains("line 2"), "{e}");
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// PARTs that change the state while the journal is busy are written in
    /// one record with one sync; an unsynced start record that carries a
    /// durable change does not let that change return before a sync.
    #[test]
    fn group_commit_merges_waiters_and_never_skips_a_sync() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let st = PlanState::load(&fs, "p").unwrap();
        let commit = StateCommit::new(Journal::open(&fs, &st).unwrap());
        let state = Mutex::new(st);
        let records = |c: &StateCommit| std::fs::read_to_string(c.path()).unwrap().lines().count();
        block_on(async {
            // Four durable changes queue behind a busy writer.
            let busy = commit.committed.lock().await;
            let save = |n| commit.save(&state, n, Durability::Synced, |p| p.attempts = 1);
            let release = async {
                tokio::task::yield_now().await;
                drop(busy);
            };
            let (a, b, c, d, ()) = tokio::join!(save(1), save(2), save(3), save(4), release);
            assert!([a, b, c, d].iter().all(|r| r.is_ok()));
            assert_eq!(records(&commit), 1);
            assert_eq!(commit.committed.lock().await.journal.syncs, 1);

            // A start record (unsynced) goes first and carries PART 6's
            // durable change with it: PART 6 must still sync.
            let busy = commit.committed.lock().await;
            let start = commit.save(&state, 5, Durability::Appended, |p| p.attempts = 2);
            let outcome = commit.save(&state, 6, Durability::Synced, |p| p.attempts = 1);
            let release = async {
                tokio::task::yield_now().await;
                drop(busy);
            };
            let (a, b, ()) = tokio::join!(start, outcome, release);
            a.unwrap();
            b.unwrap();
            assert_eq!(records(&commit), 2, "one record for both");
            assert_eq!(commit.committed.lock().await.journal.syncs, 2);
        });
        let got = PlanState::load(&fs, "p").unwrap();
        assert_eq!(got.parts.len(), 6);
        assert_eq!(got.part(5).unwrap().attempts, 2);
    }
}

//! The one door to the workspace's files: every read and write expand makes
//! in a workspace goes through a [`Jail`] rooted at it.
//!
//! It holds the workspace folder open as a capability (`cap_std::fs::Dir`)
//! and resolves every path beneath it, component by component: a `..`, an
//! absolute path or a symbolic link — anywhere on the path, created before or
//! during the run — that would lead outside the workspace is refused by the
//! same code that opens the file, so there is no gap between a check and the
//! use. Links that stay inside are followed as usual.
//!
//! Writes are atomic: a temp file in the target's own folder (same
//! filesystem, so the rename never crosses devices), synced, then renamed
//! over the target. A new file gets the process umask's mode; a replaced file
//! keeps its own. A temp file left by a killed process is named
//! `.<name>.<random>.expand-tmp` and removed by [`Jail::clean_temp_files`].

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::{Dir, OpenOptions};

/// What a temp file adds to its target's name: `.` + `.` + 8 hex digits +
/// `.expand-tmp`. A file name longer than [`MAX_NAME`] can never be written.
pub const TEMP_OVERHEAD: usize = 1 + 1 + 8 + TEMP_SUFFIX.len();
/// The longest file name expand can write atomically on a filesystem that
/// allows 255-byte names.
pub const MAX_NAME: usize = 255 - TEMP_OVERHEAD;
const TEMP_SUFFIX: &str = ".expand-tmp";
/// How long [`Jail::rewrite`] waits, when someone is appending to the file
/// it replaced, for a write that opened the old file before the rename: a
/// write made longer than this after its open may land in the old file
/// and be lost. (No scheme without the writer's cooperation does better.)
pub const SETTLE: std::time::Duration = std::time::Duration::from_millis(10);

fn exists(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("`{}` exists already", p.display()),
    )
}

/// The workspace's files, reachable only beneath its root.
#[derive(Clone)]
pub struct Jail {
    root: PathBuf,
    dir: Arc<Dir>,
}

impl std::fmt::Debug for Jail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jail").field("root", &self.root).finish()
    }
}

/// One folder of a walk (`rel` its path below the walk's top `p`): its
/// files, then its subfolders', each subfolder on rayon's threads.
fn visit(
    dir: &Dir,
    rel: String,
    p: &Path,
    ext: &str,
    skip: &(dyn Fn(&Path) -> bool + Sync),
) -> io::Result<Vec<String>> {
    use rayon::prelude::*;
    let mut out = Vec::new();
    let mut subdirs: Vec<(Dir, String)> = Vec::new();
    for e in dir.entries()? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let ft = e.file_type()?;
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if ft.is_dir() {
            if skip(&p.join(&child)) {
                continue;
            }
            match dir.open_dir(name) {
                Ok(d) => subdirs.push((d, child)),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        } else if ft.is_file() && name.ends_with(ext) {
            out.push(child);
        }
    }
    // Folders side by side are read on all cores; one or none is read
    // here (a small base then starts no thread pool: validate's whole
    // run on a few plans took less than starting one).
    let one = |(d, child): (Dir, String)| visit(&d, child, p, ext, skip);
    let below: Vec<Vec<String>> = if subdirs.len() < 2 {
        subdirs.into_iter().map(one).collect::<io::Result<_>>()?
    } else {
        subdirs
            .into_par_iter()
            .map(one)
            .collect::<io::Result<_>>()?
    };
    out.extend(below.into_iter().flatten());
    Ok(out)
}

/// Whether `e` is the refusal of a path that leads outside the jail.
pub fn is_escape(e: &io::Error) -> bool {
    e.to_string().contains("leads outside the workspace")
}

impl Jail {
    /// Open `root` (an existing folder; canonical, so that absolute paths
    /// built from it can be taken back to relative ones).
    pub fn open(root: &Path) -> io::Result<Jail> {
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
        Ok(Jail {
            root: root.to_path_buf(),
            dir: Arc::new(dir),
        })
    }

    /// The folder the jail is rooted at.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `p` relative to the root: absolute paths must lie under it (textually;
    /// links are the resolver's business), relative ones are taken as they
    /// are. The root itself is `.`.
    pub fn relative<'a>(&self, p: &'a Path) -> io::Result<Cow<'a, Path>> {
        let rel: Cow<'a, Path> = if p.is_absolute() {
            match p.strip_prefix(&self.root) {
                Ok(r) => Cow::Owned(r.to_path_buf()),
                Err(_) => return Err(outside(p)),
            }
        } else {
            Cow::Borrowed(p)
        };
        if rel.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(outside(p));
        }
        if rel.as_os_str().is_empty() {
            return Ok(Cow::Borrowed(Path::new(".")));
        }
        Ok(rel)
    }

    /// Run `f` on the path relative to the root, turning the resolver's
    /// refusal into an error that names the path.
    fn at<T>(&self, p: &Path, f: impl FnOnce(&Dir, &Path) -> io::Result<T>) -> io::Result<T> {
        let rel = self.relative(p)?;
        f(&self.dir, &rel).map_err(|e| if escaped(&e) { outside(&rel) } else { e })
    }

    pub fn read(&self, p: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        self.at(p.as_ref(), |d, r| d.read(r))
    }

    pub fn read_to_string(&self, p: impl AsRef<Path>) -> io::Result<String> {
        self.at(p.as_ref(), |d, r| d.read_to_string(r))
    }

    /// The file's bytes, or `None` when it does not exist.
    pub fn read_opt(&self, p: impl AsRef<Path>) -> io::Result<Option<Vec<u8>>> {
        match self.read(p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The file's text, or `None` when it does not exist.
    pub fn read_to_string_opt(&self, p: impl AsRef<Path>) -> io::Result<Option<String>> {
        match self.read_to_string(p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Metadata, following links that stay inside.
    pub fn metadata(&self, p: impl AsRef<Path>) -> io::Result<cap_std::fs::Metadata> {
        self.at(p.as_ref(), |d, r| d.metadata(r))
    }

    /// Metadata of the entry itself (a link is not followed).
    pub fn symlink_metadata(&self, p: impl AsRef<Path>) -> io::Result<cap_std::fs::Metadata> {
        self.at(p.as_ref(), |d, r| d.symlink_metadata(r))
    }

    /// A regular file (through links that stay inside).
    pub fn is_file(&self, p: impl AsRef<Path>) -> bool {
        self.metadata(p).map(|m| m.is_file()).unwrap_or(false)
    }

    pub fn is_dir(&self, p: impl AsRef<Path>) -> bool {
        self.metadata(p).map(|m| m.is_dir()).unwrap_or(false)
    }

    /// Anything at `p`, a dangling or escaping link included.
    pub fn exists(&self, p: impl AsRef<Path>) -> bool {
        self.symlink_metadata(p).is_ok()
    }

    pub fn create_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = p.as_ref();
        match self.at(p, |d, r| d.create_dir_all(r)) {
            // A link in the way reads as "exists": say where it leads.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match self.metadata(p) {
                Err(m) if is_escape(&m) => Err(m),
                _ => Err(e),
            },
            other => other,
        }
    }

    pub fn remove_file(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.at(p.as_ref(), |d, r| d.remove_file(r))
    }

    /// Remove an empty folder.
    pub fn remove_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.at(p.as_ref(), |d, r| d.remove_dir(r))
    }

    pub fn remove_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.at(p.as_ref(), |d, r| d.remove_dir_all(r))
    }

    /// Rename within the workspace (both ends confined).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let to = self.relative(to.as_ref())?.into_owned();
        self.at(from.as_ref(), |d, r| d.rename(r, d, &to))
    }

    /// Names and kinds of the entries of a folder, sorted by name.
    pub fn read_dir(&self, p: impl AsRef<Path>) -> io::Result<Vec<Entry>> {
        let mut out = self.at(p.as_ref(), |d, r| {
            let mut v = Vec::new();
            for e in d.read_dir(r)? {
                let e = e?;
                let ft = e.file_type()?;
                v.push(Entry {
                    name: e.file_name().to_string_lossy().into_owned(),
                    is_file: ft.is_file(),
                    is_dir: ft.is_dir(),
                    is_symlink: ft.is_symlink(),
                });
            }
            Ok(v)
        })?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every file under folder `p` whose name ends with `ext`, as
    /// forward-slash paths relative to `p`, sorted. Hidden entries (`.x`)
    /// and folders for which `skip` (given the folder's path, `p` joined
    /// with the relative one) says so are left out; links are not followed;
    /// folders that cannot be read are passed over. A missing `p` is empty.
    pub fn walk(
        &self,
        p: impl AsRef<Path>,
        ext: &str,
        skip: impl Fn(&Path) -> bool + Sync,
    ) -> io::Result<Vec<String>> {
        let p = p.as_ref();
        if matches!(self.metadata(p), Ok(m) if !m.is_dir()) {
            return Ok(Vec::new());
        }
        let top = match self.at(p, |d, r| d.open_dir(r)) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = visit(&top, String::new(), p, ext, &skip)?;
        out.sort();
        Ok(out)
    }

    /// Open `p` for appending, creating it (for journals).
    pub fn open_append(&self, p: impl AsRef<Path>) -> io::Result<std::fs::File> {
        let mut o = OpenOptions::new();
        o.create(true).append(true);
        let f = self.at(p.as_ref(), |d, r| d.open_with(r, &o))?;
        Ok(f.into_std())
    }

    /// Open `p` for reading and writing, creating it (for lock files).
    pub fn open_rw(&self, p: impl AsRef<Path>) -> io::Result<std::fs::File> {
        let mut o = OpenOptions::new();
        o.create(true).read(true).write(true);
        let f = self.at(p.as_ref(), |d, r| d.open_with(r, &o))?;
        Ok(f.into_std())
    }

    /// Open a folder for reading (to lock or sync it: a folder handle
    /// from `open_dir` may be a path-only one that can do neither).
    pub fn open_dir_file(&self, p: impl AsRef<Path>) -> io::Result<std::fs::File> {
        let mut o = OpenOptions::new();
        o.read(true);
        let f = self.at(p.as_ref(), |d, r| d.open_with(r, &o))?;
        Ok(f.into_std())
    }

    /// Make a rename or creation in folder `p` survive a power cut.
    /// (Unix only: elsewhere a folder cannot be opened to be synced.)
    pub fn sync_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        #[cfg(unix)]
        self.open_dir_file(p)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = p;
        Ok(())
    }

    /// Write `bytes` to `p` atomically and durably (see the module header).
    /// Missing folders are made.
    pub fn write(&self, p: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
        self.write_with(p.as_ref(), bytes, true)
    }

    /// Like [`Jail::write`] without the fsync, for caches: readers still see
    /// a whole file or none, and what a power cut can cost is one repeated
    /// request.
    pub fn write_unsynced(&self, p: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
        self.write_with(p.as_ref(), bytes, false)
    }

    /// Write a new file `p` atomically; refuses (`AlreadyExists`) when a
    /// file is there, checked again just before the rename.
    pub fn write_new(&self, p: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
        let p = p.as_ref();
        let free = || match self.symlink_metadata(p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e),
            Ok(_) => Ok(false),
        };
        if !free()? {
            return Err(exists(p));
        }
        if self.write_checked(p, bytes, true, free)? {
            Ok(())
        } else {
            Err(exists(p))
        }
    }

    fn write_with(&self, p: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        self.write_checked(p, bytes, sync, || Ok(true)).map(|_| ())
    }

    /// The atomic write, renaming only when `check` (called just before the
    /// rename) says yes. Returns whether it renamed.
    fn write_checked(
        &self,
        p: &Path,
        bytes: &[u8],
        sync: bool,
        check: impl FnOnce() -> io::Result<bool>,
    ) -> io::Result<bool> {
        let rel = self.relative(p)?.into_owned();
        let name = rel
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_owned();
        let parent = rel
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let map = |e: io::Error| if escaped(&e) { outside(&rel) } else { e };
        // Folders are made when missing, not checked before every write: a
        // run writes into the same few folders again and again.
        let dir = match self.dir.open_dir(&parent) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.dir.create_dir_all(&parent).map_err(map)?;
                self.dir.open_dir(&parent).map_err(map)?
            }
            other => other.map_err(map)?,
        };
        // A replaced file keeps its mode; a link in its place is replaced by
        // the file, never written through.
        let keep = match dir.symlink_metadata(&name) {
            Ok(m) if m.is_file() => Some(m.permissions()),
            _ => None,
        };
        let (tmp_name, mut file) = create_temp(&dir, &name.to_string_lossy())?;
        let written = (|| {
            file.write_all(bytes)?;
            if let Some(perm) = keep {
                file.set_permissions(perm)?;
            }
            if sync {
                file.sync_all()?;
            }
            drop(file);
            if !check()? {
                return Ok(false);
            }
            dir.rename(&tmp_name, &dir, &name)?;
            Ok(true)
        })();
        if !matches!(written, Ok(true)) {
            let _ = dir.remove_file(&tmp_name);
        }
        written.map_err(map)
    }

    /// Open `p` for reading.
    pub fn open_read(&self, p: impl AsRef<Path>) -> io::Result<std::fs::File> {
        Ok(self.at(p.as_ref(), |d, r| d.open(r))?.into_std())
    }

    /// Replace the file `p` with `edit` of its bytes (`None`: leave it), so
    /// that bytes someone else writes meanwhile are never dropped: the
    /// rename happens only while the file is the one that was read and what
    /// was read is still its beginning (else the edit starts again from
    /// what is there now), and whatever was appended to the old file by
    /// then is appended to the new one (after what others appended to the
    /// new one meanwhile, if anything: whole writes keep their bytes
    /// together). Returns whether the file changed.
    pub fn rewrite(
        &self,
        p: impl AsRef<Path>,
        late: &mut Late,
        mut edit: impl FnMut(&[u8]) -> io::Result<Option<Vec<u8>>>,
    ) -> io::Result<bool> {
        use std::io::{Read, Seek, SeekFrom};
        let p = p.as_ref();
        for _ in 0..32 {
            let mut old = self.open_read(p)?;
            let seen = old.metadata()?;
            let mut current = Vec::with_capacity(seen.len() as usize);
            old.read_to_end(&mut current)?;
            let Some(new) = edit(&current)? else {
                return Ok(false);
            };
            if new == current {
                return Ok(false);
            }
            let len = current.len() as u64;
            let mut busy = false;
            let landed = self.write_checked(p, &new, true, || {
                // Still this file, only ever appended to since it was read?
                let now = self.open_read(p)?.metadata()?;
                if !same_inode(&seen, &now) || now.len() < len {
                    return Ok(false);
                }
                busy = now.len() > len;
                let mut head = vec![0; current.len()];
                let mut f = &old;
                f.seek(SeekFrom::Start(0))?;
                f.read_exact(&mut head)?;
                Ok(head == current)
            })?;
            if !landed {
                continue; // rewritten in between: start again from their bytes
            }
            // Appended to the old file after it was read: append it to the
            // new one. When someone is appending right now, first let a
            // write that opened the old file before the rename land.
            let mut tail = Vec::new();
            old.seek(SeekFrom::Start(len))?;
            old.read_to_end(&mut tail)?;
            while busy || !tail.is_empty() {
                busy = false;
                std::thread::sleep(SETTLE);
                let before = tail.len();
                old.read_to_end(&mut tail)?;
                if tail.len() == before {
                    break;
                }
            }
            if !tail.is_empty() {
                let mut f = self.open_append(p)?;
                f.write_all(&tail)?;
                f.sync_data()?;
            }
            // A writer that opened the old file and writes later still can:
            // keep it, so `Late::sweep` carries what lands there over.
            late.0.push((old, len + tail.len() as u64));
            return Ok(true);
        }
        Err(io::Error::other(format!(
            "`{}` kept changing while expand edited it; try again",
            p.display()
        )))
    }

    /// [`Jail::rewrite`] once, sweeping what lands late in the replaced file
    /// before returning: for one-shot edits (reset, accept, fix-encoding).
    pub fn rewrite_once(
        &self,
        p: impl AsRef<Path>,
        edit: impl FnMut(&[u8]) -> io::Result<Option<Vec<u8>>>,
    ) -> io::Result<bool> {
        let p = p.as_ref();
        let mut late = Late::default();
        let changed = self.rewrite(p, &mut late, edit)?;
        late.sweep(self, p)?;
        Ok(changed)
    }

    /// Find out now, before paid work, whether files can be created in
    /// folder `p`, or in the nearest folder above it that exists (where
    /// the missing ones would be made): a read-only folder, a file in the
    /// way or a full disk fails here rather than after the writer answered.
    /// Changes nothing.
    pub fn probe_writable(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let mut at = self.relative(p.as_ref())?.into_owned();
        loop {
            match self.metadata(&at) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => {
                    return Err(io::Error::other(format!(
                        "`{}` is a file, not a folder",
                        at.display()
                    )))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            if !at.pop() || at.as_os_str().is_empty() {
                at = PathBuf::from(".");
                break;
            }
        }
        self.at(&at, |d, r| {
            let dir = d.open_dir(r)?;
            let (name, file) = create_temp(&dir, "probe")?;
            drop(file);
            dir.remove_file(&name)
        })
    }

    /// Remove the temp files a killed process left in folder `p` (not
    /// below it). Returns how many went.
    pub fn clean_temp_files(&self, p: impl AsRef<Path>) -> usize {
        let p = p.as_ref();
        let Ok(entries) = self.read_dir(p) else {
            return 0;
        };
        entries
            .iter()
            .filter(|e| e.is_file && e.name.starts_with('.') && e.name.ends_with(TEMP_SUFFIX))
            .filter(|e| self.remove_file(p.join(&e.name)).is_ok())
            .count()
    }
}

/// Files [`Jail::rewrite`] replaced, kept open with how much of each has
/// been carried over: a writer that opened one before it was replaced can
/// still append to it, and [`Late::sweep`] appends what it wrote to the
/// file in its place. A run keeps them until it ends.
#[derive(Default)]
pub struct Late(Vec<(std::fs::File, u64)>);

impl Late {
    /// Append to `p` whatever was written to its replaced versions since
    /// they were replaced.
    pub fn sweep(&mut self, jail: &Jail, p: &Path) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        for (old, len) in &mut self.0 {
            if old.metadata()?.len() <= *len {
                continue;
            }
            let mut tail = Vec::new();
            old.seek(SeekFrom::Start(*len))?;
            old.read_to_end(&mut tail)?;
            if tail.is_empty() {
                continue;
            }
            let mut f = jail.open_append(p)?;
            f.write_all(&tail)?;
            f.sync_data()?;
            *len += tail.len() as u64;
        }
        Ok(())
    }
}

/// One entry of a folder.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub is_file: bool,
    pub is_dir: bool,
    pub is_symlink: bool,
}

/// A new, empty temp file for `name` in `dir`, created exclusively.
fn create_temp(dir: &Dir, name: &str) -> io::Result<(String, cap_std::fs::File)> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    let mut last = None;
    for _ in 0..16 {
        let tmp = format!(".{name}.{:08x}{TEMP_SUFFIX}", rand::random::<u32>());
        match dir.open_with(&tmp, &o) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("cannot create a temp file")))
}

/// Whether two metadata describe the same file (not only the same name).
fn same_inode(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        // No inode numbers: the file replaced by a rename shows as a new
        // creation time.
        a.created().ok() == b.created().ok()
    }
}

/// The resolver's refusal: cap-std's own error, or the kernel's `EXDEV`
/// from `openat2(RESOLVE_BENEATH)`.
fn escaped(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if e.raw_os_error() == Some(libc::EXDEV) {
        return true;
    }
    e.kind() == io::ErrorKind::PermissionDenied
        && e.to_string().contains("outside of the filesystem")
}

fn outside(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "`{}` leads outside the workspace (through `..`, an absolute path or a symbolic link)",
            p.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail() -> (tempfile::TempDir, Jail) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let j = Jail::open(&root).unwrap();
        (d, j)
    }

    #[test]
    fn writes_replace_atomically_and_leave_no_temp_file() {
        let (_d, j) = jail();
        j.write("sub/f.md", b"one").unwrap();
        j.write(j.root().join("sub/f.md"), b"two").unwrap();
        assert_eq!(j.read("sub/f.md").unwrap(), b"two");
        assert_eq!(j.read_dir("sub").unwrap().len(), 1);
        // A folder in the way of the target is an error, and no temp file stays.
        assert!(j.write("sub/f.md/inside.md", b"x").is_err());
        assert_eq!(j.read_dir("sub").unwrap().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_follow_the_umask_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, j) = jail();
        let umask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        };
        j.write("new.md", b"x").unwrap();
        let mode = |p: &str| {
            std::fs::metadata(j.root().join(p))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_eq!(mode("new.md") & 0o777, 0o666 & !(umask as u32));
        std::fs::set_permissions(
            j.root().join("new.md"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        j.write("new.md", b"y").unwrap();
        assert_eq!(mode("new.md") & 0o777, 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn links_out_are_refused_everywhere_on_the_path() {
        let (_d, j) = jail();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cr3t").unwrap();
        let link = |target: &Path, at: &str| {
            let p = j.root().join(at);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
        };
        link(outside.path(), "k/out");
        link(&outside.path().join("secret"), "k/INDEX.md");
        std::fs::create_dir_all(j.root().join("k/real")).unwrap();
        link(Path::new("real"), "k/inside");
        for p in ["k/out/x.md", "k/out/secret"] {
            let e = j.write(p, b"x").unwrap_err();
            assert!(is_escape(&e), "{p}: {e}");
        }
        assert!(is_escape(&j.read("k/out/secret").unwrap_err()));
        assert!(is_escape(&j.read("k/INDEX.md").unwrap_err()));
        assert!(is_escape(&j.read("../x").unwrap_err()));
        assert!(is_escape(&j.read("/etc/passwd").unwrap_err()));
        // Writing the linked name replaces the link, never the file behind it.
        j.write("k/INDEX.md", b"mine").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "s3cr3t"
        );
        // A link that stays inside is followed.
        j.write("k/inside/y.md", b"y").unwrap();
        assert_eq!(j.read("k/real/y.md").unwrap(), b"y");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    /// Someone writes the file between expand's read and its rename: their
    /// bytes survive, whether they appended or rewrote it.
    #[test]
    fn rewrite_never_drops_bytes_written_meanwhile() {
        let (_d, j) = jail();
        j.write("p.md", b"line one [ ]\n").unwrap();
        let path = j.root().join("p.md");
        let mut calls = 0;
        let changed = j
            .rewrite_once("p.md", |b| {
                calls += 1;
                if calls == 1 {
                    // An editor appends while expand edits.
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
                    f.write_all(b"appended\n")?;
                }
                Ok(Some(
                    String::from_utf8_lossy(b)
                        .replace("[ ]", "[x]")
                        .into_bytes(),
                ))
            })
            .unwrap();
        assert!(changed);
        assert_eq!(calls, 1);
        assert_eq!(
            j.read_to_string("p.md").unwrap(),
            "line one [x]\nappended\n"
        );
        // Replaced by someone between the read and the rename: start again
        // from their bytes.
        j.write("p.md", b"ours [ ]\n").unwrap();
        let mut calls = 0;
        j.rewrite_once("p.md", |b| {
            calls += 1;
            if calls == 1 {
                std::fs::write(path.with_extension("new"), b"theirs [ ]\n")?;
                std::fs::rename(path.with_extension("new"), &path)?;
            }
            Ok(Some(
                String::from_utf8_lossy(b)
                    .replace("[ ]", "[x]")
                    .into_bytes(),
            ))
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert_eq!(j.read_to_string("p.md").unwrap(), "theirs [x]\n");
        // A plain edit in one go; none at all when nothing changes.
        j.write("q.md", b"a [ ]\n").unwrap();
        assert!(j
            .rewrite_once("q.md", |b| Ok(Some(b.to_ascii_uppercase())))
            .unwrap());
        assert_eq!(j.read_to_string("q.md").unwrap(), "A [ ]\n");
        assert!(!j.rewrite_once("q.md", |_| Ok(None)).unwrap());
    }

    #[test]
    fn temp_files_of_a_killed_write_are_cleaned() {
        let (_d, j) = jail();
        j.write("k/a.md", b"a").unwrap();
        std::fs::write(j.root().join("k/.a.md.0badf00d.expand-tmp"), "half").unwrap();
        std::fs::write(j.root().join("k/.keep"), "user's").unwrap();
        assert_eq!(j.clean_temp_files("k"), 1);
        let names: Vec<_> = j
            .read_dir("k")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [".keep", "a.md"]);
        j.probe_writable("k/new/deeper").unwrap();
        assert!(!j.exists("k/new"), "a probe makes no folder");
        j.write("k/file", b"x").unwrap();
        assert!(j.probe_writable("k/file/sub").is_err());
    }

    /// Fifty edits while another thread appends a line every millisecond:
    /// every edit lands and every appended line survives, those written into
    /// a replaced file however late included (the sweep carries them).
    #[test]
    fn rewrite_under_a_steady_appender_loses_nothing() {
        let d = tempfile::tempdir().unwrap();
        let j = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let mut base = String::new();
        for i in 0..50 {
            base.push_str(&format!("item {i} [ ]\n"));
        }
        j.write("p.md", base.as_bytes()).unwrap();
        let path = j.root().join("p.md");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let h = std::thread::spawn(move || {
            use std::io::Write;
            let mut slow = Vec::new();
            let mut n = 0;
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                let opened = std::time::Instant::now();
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                // One write per line, as `echo >>` does.
                f.write_all(format!("<!-- note {n} -->\n").as_bytes())
                    .unwrap();
                if opened.elapsed() > SETTLE / 2 {
                    slow.push(n);
                }
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            (n, slow)
        });
        let mut late = Late::default();
        for i in 0..50 {
            let from = format!("item {i} [ ]");
            let to = format!("item {i} [x]");
            j.rewrite("p.md", &mut late, |b| {
                Ok(Some(
                    String::from_utf8_lossy(b).replace(&from, &to).into_bytes(),
                ))
            })
            .unwrap();
            late.sweep(&j, Path::new("p.md")).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (n, _slow) = h.join().unwrap();
        // The appender is done: whatever it wrote into a replaced file is
        // carried over now, however late it wrote.
        late.sweep(&j, Path::new("p.md")).unwrap();
        let now = j.read_to_string("p.md").unwrap();
        let lost: Vec<usize> = (0..n)
            .filter(|i| !now.contains(&format!("<!-- note {i} -->\n")))
            .collect();
        assert!(lost.is_empty(), "{} of {n} lost: {lost:?}", lost.len());
        assert_eq!(now.matches("[x]").count(), 50);
    }
}

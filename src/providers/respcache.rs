//! The response cache on disk: one append-only log, `responses.log`, in the
//! cache folder, with its index (key → where the record lies) in memory,
//! built at open by reading the records' headers only. A 24-PART run used
//! to leave some 144 files in 104 folders, each a new inode, a temporary
//! file and a rename; now every answer is one `write` at the end of one
//! file.
//!
//! A record is a header line `expand-http1 <key> <length> <crc32 hex>\n`,
//! then `length` bytes (the response as JSON), then `\n`. Each is appended
//! with a single write to a file opened for appending, so processes sharing
//! the folder never interleave records. Like the old files, records are not
//! fsynced (a cache: a power cut costs repeated requests); a torn or damaged
//! record fails its length or checksum and is skipped, the reader
//! resynchronizing at the next header. Entries written by older versions,
//! one file per request (`ab/abcd….json`), are still read when the log has
//! no answer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::workspace::jail::Jail;

pub const LOG: &str = "responses.log";
const MAGIC: &str = "expand-http1 ";

pub struct ResponseCache {
    jail: Jail,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    /// Opened on the first record written, so a run that caches nothing
    /// leaves no file.
    file: Option<std::fs::File>,
    /// key → (offset of the body, its length, its crc).
    index: HashMap<String, (u64, u64, u32)>,
}

impl ResponseCache {
    /// The cache in the folder `jail` confines, its log's index read.
    pub fn open(jail: Jail) -> ResponseCache {
        let index = match jail.open_read(LOG) {
            Ok(f) => read_index(f),
            Err(_) => HashMap::new(),
        };
        ResponseCache {
            jail,
            log: Mutex::new(Log { file: None, index }),
        }
    }

    /// The cached body for `key`: from the log, else from an old
    /// per-request file.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let hit = self.log.lock().expect("cache lock").index.get(key).copied();
        if let Some((at, len, crc)) = hit {
            if let Some(body) = self.read_at(at, len).filter(|b| crc32fast::hash(b) == crc) {
                return Some(body);
            }
        }
        self.jail.read(legacy_path(key)).ok()
    }

    fn read_at(&self, at: u64, len: u64) -> Option<Vec<u8>> {
        let mut f = self.jail.open_read(LOG).ok()?;
        f.seek(SeekFrom::Start(at)).ok()?;
        let mut body = vec![0; usize::try_from(len).ok()?];
        f.read_exact(&mut body).ok()?;
        Some(body)
    }

    /// Append `body` as the answer for `key`.
    pub fn put(&self, key: &str, body: &[u8]) -> std::io::Result<()> {
        let crc = crc32fast::hash(body);
        let header = format!("{MAGIC}{key} {} {crc:08x}\n", body.len());
        let mut record = Vec::with_capacity(header.len() + body.len() + 1);
        record.extend_from_slice(header.as_bytes());
        record.extend_from_slice(body);
        record.push(b'\n');
        let mut log = self.log.lock().expect("cache lock");
        if log.file.is_none() {
            log.file = Some(self.jail.open_append(LOG)?);
        }
        let f = log.file.as_mut().expect("opened above");
        // One write of the whole record: appends from other processes land
        // before or after it, never inside.
        f.write_all(&record)?;
        // Appending moved the offset to the end of this record.
        let end = f.stream_position()?;
        let at = end - 1 - body.len() as u64;
        log.index
            .insert(key.to_string(), (at, body.len() as u64, crc));
        Ok(())
    }
}

/// Where an older version kept the answer for `key`.
fn legacy_path(key: &str) -> PathBuf {
    Path::new(key.get(..2).unwrap_or("__")).join(format!("{key}.json"))
}

/// key → (body offset, length, crc) for every whole record; later records
/// of a key win. Damage is skipped: the scan resumes at the next header.
fn read_index(f: std::fs::File) -> HashMap<String, (u64, u64, u32)> {
    let mut index = HashMap::new();
    let mut r = BufReader::new(f);
    let mut pos = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                pos += n as u64;
                // A header may follow a torn record's bytes on the same line.
                let Some(at) = memchr::memmem::find(&line, MAGIC.as_bytes()) else {
                    continue;
                };
                let Some((key, len, crc)) = parse_header(&line[at..]) else {
                    continue;
                };
                let body = pos;
                // Skip the body and its newline without reading it.
                if r.seek_relative(len as i64).is_err() {
                    break;
                }
                let mut nl = [0u8; 1];
                if r.read_exact(&mut nl).is_err() {
                    break;
                }
                if nl[0] != b'\n' {
                    // Not the record it claims to be: rescan after its header.
                    if r.seek(SeekFrom::Start(body)).is_err() {
                        break;
                    }
                    pos = body;
                    continue;
                }
                pos = body + len + 1;
                index.insert(key, (body, len, crc));
            }
        }
    }
    index
}

fn parse_header(line: &[u8]) -> Option<(String, u64, u32)> {
    let line = std::str::from_utf8(line).ok()?.strip_suffix('\n')?;
    let rest = line.strip_prefix(MAGIC)?;
    let mut it = rest.split(' ');
    let key = it.next()?;
    let len = it.next()?.parse().ok()?;
    let crc = u32::from_str_radix(it.next()?, 16).ok()?;
    if it.next().is_some() || key.is_empty() || key.len() > 200 {
        return None;
    }
    let ok = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| (key.to_string(), len, crc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail() -> (tempfile::TempDir, Jail) {
        let d = tempfile::tempdir().unwrap();
        let j = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        (d, j)
    }

    #[test]
    fn answers_survive_a_reopen_and_the_latest_wins() {
        let (d, j) = jail();
        let c = ResponseCache::open(j.clone());
        assert!(c.get("k1").is_none());
        c.put("k1", b"{\"a\":1}").unwrap();
        c.put("k2", b"two\nlines").unwrap();
        c.put("k1", b"{\"a\":2}").unwrap();
        assert_eq!(c.get("k1").unwrap(), b"{\"a\":2}");
        drop(c);
        let c = ResponseCache::open(j);
        assert_eq!(c.get("k1").unwrap(), b"{\"a\":2}");
        assert_eq!(c.get("k2").unwrap(), b"two\nlines");
        let files: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "one file for every answer");
    }

    #[test]
    fn a_torn_or_damaged_record_is_skipped_and_the_rest_read() {
        let (d, j) = jail();
        let c = ResponseCache::open(j.clone());
        c.put("a", b"first").unwrap();
        c.put("b", b"second").unwrap();
        c.put("c", b"third").unwrap();
        drop(c);
        let p = d.path().join(LOG);
        let mut bytes = std::fs::read(&p).unwrap();
        // Damage b's body (same length: only the crc tells), tear the tail.
        let at = bytes.windows(6).position(|w| w == b"second").unwrap();
        bytes[at] = b'S';
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&p, &bytes).unwrap();
        let c = ResponseCache::open(j.clone());
        assert_eq!(c.get("a").unwrap(), b"first");
        assert!(c.get("b").is_none());
        assert!(c.get("c").is_none());
        // Appending after a torn tail still gives readable records.
        c.put("d", b"fourth").unwrap();
        drop(c);
        let c = ResponseCache::open(j);
        assert_eq!(c.get("a").unwrap(), b"first");
        assert_eq!(c.get("d").unwrap(), b"fourth");
    }

    #[test]
    fn an_old_per_request_file_is_still_read() {
        let (d, j) = jail();
        std::fs::create_dir_all(d.path().join("ab")).unwrap();
        std::fs::write(d.path().join("ab/abcdef.json"), b"old").unwrap();
        let c = ResponseCache::open(j);
        assert_eq!(c.get("abcdef").unwrap(), b"old");
        assert!(c.get("abzzzz").is_none());
    }
}

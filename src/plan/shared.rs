//! `SharedStr`: a string of the plan model that shares its bytes with the
//! other strings parsed from the same plan.
//!
//! A plan has thousands of items, each with its text and usually a payload
//! (a reference, a query, a title) that is a slice of that text. Owned
//! `String`s cost an allocation (and a free) each, which was the largest
//! cost of parsing after pulldown-cmark itself. A `SharedStr` is a span of
//! one reference-counted buffer per parse instead: making one, cloning one
//! or narrowing one to a slice of it allocates nothing.
//!
//! It reads as a `str` (`Deref`), and compares, hashes, prints, debugs and
//! serializes exactly as the `String` it replaces.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// The buffer is an `Arc<String>` rather than an `Arc<str>`: the parser's
/// inline text is built in a `String`, and moving it into an `Arc<str>`
/// copied it (as large as the plan) once per parse. The span is two `u32`s
/// (plans are at most 16 MiB): 16 bytes instead of 24 for each of the
/// several strings every item holds.
#[derive(Clone)]
pub struct SharedStr {
    buf: Arc<String>,
    start: u32,
    end: u32,
}

/// A buffer offset as stored in a span.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("plan text is far below 4 GiB")
}

impl SharedStr {
    /// The whole of `buf`.
    pub fn whole(buf: Arc<String>) -> Self {
        let end = offset(buf.len());
        SharedStr { buf, start: 0, end }
    }

    pub fn as_str(&self) -> &str {
        &self.buf[self.start as usize..self.end as usize]
    }

    /// `s` as a `SharedStr`: a span of the same buffer when `s` is a slice of
    /// `self` (no allocation), a copy otherwise.
    pub fn sub(&self, s: &str) -> SharedStr {
        let whole = self.as_str();
        let (base, p) = (whole.as_ptr() as usize, s.as_ptr() as usize);
        if p >= base && p + s.len() <= base + whole.len() {
            let start = self.start as usize + (p - base);
            SharedStr {
                buf: Arc::clone(&self.buf),
                start: offset(start),
                end: offset(start + s.len()),
            }
        } else {
            SharedStr::from(s)
        }
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        SharedStr::from("")
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr::whole(Arc::new(s.to_owned()))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr::whole(Arc::new(s))
    }
}

impl From<SharedStr> for String {
    fn from(s: SharedStr) -> Self {
        s.as_str().to_owned()
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_shares_or_copies() {
        let t = SharedStr::from("Read folder/00.md (note)");
        let r = t.sub(&t[5..14]);
        assert_eq!(r, "folder/00");
        assert!(Arc::ptr_eq(&r.buf, &t.buf));
        let n = r.sub(&r[7..]);
        assert_eq!(n, "00");
        assert!(Arc::ptr_eq(&n.buf, &t.buf));
        let other = t.sub("elsewhere");
        assert_eq!(other, "elsewhere");
        assert!(!Arc::ptr_eq(&other.buf, &t.buf));
        assert_eq!(format!("{t:?}"), format!("{:?}", t.as_str()));
        assert_eq!(SharedStr::default(), "");
        assert_eq!(std::mem::size_of::<SharedStr>(), 16);
    }
}

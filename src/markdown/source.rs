//! What a citation points at: a URL, or a knowledge file (with a line range
//! when one is given). Every stage that tells the two apart (evidence, the
//! drop's lists, the quality check, review) asks [`Source::parse`]; a
//! knowledge file in a folder named `http/` is a knowledge file.

use std::fmt;

/// A URL or a knowledge file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// `http://…` or `https://…`, as written.
    Url(String),
    /// A knowledge-relative path to a markdown file, and the 1-based
    /// inclusive line range cited, if any.
    Knowledge {
        path: String,
        lines: Option<(usize, usize)>,
    },
}

/// Whether `s` is an http(s) URL (scheme compared without case).
pub fn is_url(s: &str) -> bool {
    let s = s.trim_start();
    let b = s.as_bytes();
    (b.len() > 8 && b[..8].eq_ignore_ascii_case(b"https://"))
        || (b.len() > 7 && b[..7].eq_ignore_ascii_case(b"http://"))
}

impl Source {
    /// Read a source as evidence, state and drops write it: a URL; or a
    /// markdown path, optionally followed by a line range in one of the
    /// forms people and expand write (`a/b.md#L3-L9`, `a/b.md:3-9`,
    /// `a/b.md (lines 3-9)`, `a/b.md lines 3–9`). Anything else is `None`.
    pub fn parse(s: &str) -> Option<Source> {
        let s = s.trim();
        if is_url(s) {
            return Some(Source::Url(s.to_string()));
        }
        let end = s.find(".md")? + 3;
        let path = s[..end].trim_matches(|c: char| c == '`' || c == '<' || c == '"');
        if path.is_empty() || path.contains("://") || path.chars().any(char::is_whitespace) {
            return None;
        }
        Some(Source::Knowledge {
            path: path.trim_start_matches("./").to_string(),
            lines: line_range(&s[end..]),
        })
    }

    /// The source's identity for lists without repeats: the URL, or the
    /// knowledge path without its lines.
    pub fn key(&self) -> &str {
        match self {
            Source::Url(u) => u,
            Source::Knowledge { path, .. } => path,
        }
    }

    pub fn is_url(&self) -> bool {
        matches!(self, Source::Url(_))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Url(u) => f.write_str(u),
            Source::Knowledge { path, lines: None } => f.write_str(path),
            Source::Knowledge {
                path,
                lines: Some((a, b)),
            } => write!(f, "{path}#L{a}-L{b}"),
        }
    }
}

/// A line range right after a path: `#L3-L9`, `#L3`, `:3-9`, ` (lines 3-9)`,
/// ` lines 3–9`, ` (line 4)`, ` L3-L9`.
pub fn line_range(after: &str) -> Option<(usize, usize)> {
    let t = after.trim_start_matches('`');
    let t = if let Some(r) = t.strip_prefix("#L").or_else(|| t.strip_prefix(':')) {
        r
    } else {
        let t = t.trim_start().trim_start_matches(['(', ',']).trim_start();
        let lower = t.get(..6).map(str::to_ascii_lowercase).unwrap_or_default();
        if lower.starts_with("lines ") {
            &t[6..]
        } else if lower.starts_with("line ") {
            &t[5..]
        } else {
            t.strip_prefix('L')
                .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))?
        }
    };
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(t);
    let a: usize = t.get(..n)?.parse().ok()?;
    let rest = &t[n..];
    let rest = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix('–'))
        .or_else(|| rest.strip_prefix('—'))
        .map(|r| r.trim_start_matches('L'));
    let b = match rest {
        Some(r) => {
            let m = digits(r);
            r.get(..m).and_then(|d| d.parse().ok()).unwrap_or(a)
        }
        None => a,
    };
    (a >= 1 && b >= a).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_knowledge_files_are_told_apart_once() {
        assert_eq!(
            Source::parse("https://docs.rs/clap"),
            Some(Source::Url("https://docs.rs/clap".into()))
        );
        assert_eq!(
            Source::parse("HTTP://EXAMPLE.COM/x").map(|s| s.is_url()),
            Some(true)
        );
        // A folder named http is a folder.
        assert_eq!(
            Source::parse("http/00-client.md"),
            Some(Source::Knowledge {
                path: "http/00-client.md".into(),
                lines: None
            })
        );
        for (s, lines) in [
            ("a/b.md#L3-L9", Some((3, 9))),
            ("a/b.md:3-9", Some((3, 9))),
            ("`a/b.md` (lines 3-9)", Some((3, 9))),
            ("a/b.md lines 3–9", Some((3, 9))),
            ("a/b.md (line 4)", Some((4, 4))),
            ("a/b.md#L7", Some((7, 7))),
            ("a/b.md", None),
            ("a/b.md#L9-L3", None),
        ] {
            assert_eq!(
                Source::parse(s),
                Some(Source::Knowledge {
                    path: "a/b.md".into(),
                    lines
                }),
                "{s}"
            );
        }
        assert_eq!(Source::parse("no path here"), None);
        assert_eq!(
            Source::parse("a/b.md#L3-L9").unwrap().to_string(),
            "a/b.md#L3-L9"
        );
    }
}

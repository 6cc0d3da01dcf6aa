//! Removing credentials from text that leaves a request: error messages,
//! cached bodies, answers of a credentialed request, URLs in logs.
//!
//! A server may echo a key back in many shapes: whole or cut short, in upper
//! case, JSON-escaped (`\u0073k-…`), percent-encoded, as an HTML character
//! reference, or inside base64 (a Basic auth header). The rule is the one
//! the guarantee states: no run of 8 characters of a key survives, in any of
//! those shapes. Text is decoded unit by unit (an escape is one unit), and
//! every run of units whose decoded characters, case ignored, are 8
//! consecutive characters of a key is replaced by `[redacted]`, escapes and
//! all. Keys shorter than 8 characters are matched whole.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
/// A run this long of a key's characters is a leak.
const WINDOW: usize = 8;
/// Shorter values would redact ordinary words; keys are never that short.
const MIN_SECRET: usize = 4;

/// `text` with every echo of a secret replaced by `[redacted]`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= MIN_SECRET)
        .collect();
    if secrets.is_empty() || text.is_empty() {
        return text.to_string();
    }
    // A key with characters beyond ASCII cannot be matched unit by unit
    // (units decode to ASCII only); it is at least removed whole.
    let mut out = text.to_string();
    for s in &secrets {
        if !s.is_ascii() && out.contains(s) {
            out = out.replace(s, REDACTED);
        }
    }
    let windows = Windows::new(&secrets);
    let ranges = windows.find(&out);
    if ranges.is_empty() {
        return out;
    }
    let mut clean = String::with_capacity(out.len());
    let mut at = 0;
    for (start, end) in ranges {
        clean.push_str(&out[at..start]);
        clean.push_str(REDACTED);
        at = end;
    }
    clean.push_str(&out[at..]);
    clean
}

/// Every window of every secret, packed 8 bytes to a `u64` so a window of
/// the text is one lookup.
struct Windows {
    /// Lower-cased windows of the keys, by width (8, or a short key's length).
    folded: HashMap<usize, Set>,
    /// 8-character windows of the keys' base64 encodings, case kept.
    base64: Set,
}

/// A set of packed windows behind a 65,536-bit filter: nearly every window
/// of a text is no key's, and the filter says so in one multiply and load,
/// which keeps scrubbing a 4 MiB answer cheap even in a debug build.
#[derive(Default)]
struct Set {
    filter: Vec<u64>,
    exact: HashSet<u64>,
}

impl Set {
    fn slot(v: u64) -> (usize, u64) {
        let h = (v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize;
        (h / 64, 1u64 << (h % 64))
    }

    fn insert(&mut self, v: u64) {
        if self.filter.is_empty() {
            self.filter = vec![0; 1024];
        }
        let (word, bit) = Set::slot(v);
        self.filter[word] |= bit;
        self.exact.insert(v);
    }

    fn contains(&self, v: u64) -> bool {
        if self.filter.is_empty() {
            return false;
        }
        let (word, bit) = Set::slot(v);
        self.filter[word] & bit != 0 && self.exact.contains(&v)
    }
}

fn pack(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn mask(width: usize) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    }
}

impl Windows {
    fn new(secrets: &[&str]) -> Windows {
        let mut folded: HashMap<usize, Set> = HashMap::new();
        let mut base64 = Set::default();
        for s in secrets.iter().filter(|s| s.is_ascii()) {
            let lower = s.to_ascii_lowercase();
            let width = lower.len().min(WINDOW);
            let set = folded.entry(width).or_default();
            for w in lower.as_bytes().windows(width) {
                set.insert(pack(w));
            }
            // The key inside base64 text starts at one of three offsets of a
            // 3-byte group; each alignment encodes to its own characters.
            for skip in 0..3.min(s.len()) {
                let tail = &s.as_bytes()[skip..];
                let whole = &tail[..tail.len() / 3 * 3];
                for engine in [
                    &base64::engine::general_purpose::STANDARD_NO_PAD,
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ] {
                    let enc = engine.encode(whole);
                    for w in enc.as_bytes().windows(WINDOW) {
                        base64.insert(pack(w));
                    }
                }
            }
        }
        Windows { folded, base64 }
    }

    /// Byte ranges of `text` to redact, sorted and merged.
    fn find(&self, text: &str) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let widths: Vec<(usize, u64, &Set)> = self
            .folded
            .iter()
            .map(|(w, set)| (*w, mask(*w), set))
            .collect();
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut push = |start: usize, end: usize| match ranges.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => ranges.push((start, end)),
        };
        // The last WINDOW units' start offsets, and how many units in a row
        // decoded to ASCII (a window may not span a break).
        let mut starts = [0usize; WINDOW];
        let mut run = 0usize;
        let mut folded = 0u64;
        let mut raw = 0u64;
        let mut i = 0;
        while i < b.len() {
            let (byte, len) = unit(b, i);
            let end = i + len;
            if byte == 0 {
                run = 0;
                i = end;
                continue;
            }
            starts[run % WINDOW] = i;
            run += 1;
            folded = (folded << 8) | u64::from(byte.to_ascii_lowercase());
            raw = (raw << 8) | u64::from(byte);
            for (width, m, set) in &widths {
                if run >= *width && set.contains(folded & m) {
                    push(starts[(run - width) % WINDOW], end);
                }
            }
            if run >= WINDOW && self.base64.contains(raw) {
                push(starts[(run - WINDOW) % WINDOW], end);
            }
            i = end;
        }
        ranges
    }
}

/// The ASCII byte the unit of text at `i` stands for, and its length. An
/// escape (`\u0041`, `\x41`, `\/`, `%41`, `&#65;`, `&#x41;`) is one unit;
/// anything that decodes beyond ASCII is a break (byte 0).
fn unit(b: &[u8], i: usize) -> (u8, usize) {
    let hex = |from: usize, n: usize| -> Option<u32> {
        let s = b.get(from..from + n)?;
        if !s.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
    };
    let ascii =
        |v: u32, len: usize| -> Option<(u8, usize)> { (v < 0x80).then_some((v as u8, len)) };
    let escaped = match b[i] {
        b'\\' => match b.get(i + 1) {
            Some(b'u' | b'U') => hex(i + 2, 4).and_then(|v| ascii(v, 6)),
            Some(b'x') => hex(i + 2, 2).and_then(|v| ascii(v, 4)),
            Some(c @ (b'/' | b'\\' | b'"')) => Some((*c, 2)),
            _ => None,
        },
        b'%' => hex(i + 1, 2).and_then(|v| ascii(v, 3)),
        b'&' if b.get(i + 1) == Some(&b'#') => char_ref(b, i),
        _ => None,
    };
    if let Some(u) = escaped {
        return u;
    }
    match b[i] {
        c if c < 0x80 => (c, 1),
        // A multi-byte character: its length from the lead byte.
        c if c >= 0xf0 => (0, 4),
        c if c >= 0xe0 => (0, 3),
        _ => (0, 2),
    }
}

/// `&#NNN;` or `&#xHH;` at `i`, when it names an ASCII character.
fn char_ref(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let (radix, from) = match b.get(i + 2) {
        Some(b'x' | b'X') => (16, i + 3),
        _ => (10, i + 2),
    };
    let digits = b[from..]
        .iter()
        .take(8)
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    if digits == 0 || b.get(from + digits) != Some(&b';') {
        return None;
    }
    let v = u32::from_str_radix(std::str::from_utf8(&b[from..from + digits]).ok()?, radix).ok()?;
    (v < 0x80).then_some((v as u8, from + digits + 1 - i))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-Test-4f9a2c7e1b3d";

    fn keys() -> Vec<String> {
        vec![KEY.to_string()]
    }

    /// No 8 consecutive characters of the key, case ignored, in `s`.
    fn leaks(s: &str) -> bool {
        let s = s.to_ascii_lowercase();
        let k = KEY.to_ascii_lowercase();
        k.as_bytes()
            .windows(WINDOW)
            .any(|w| s.contains(std::str::from_utf8(w).unwrap()))
    }

    #[test]
    fn replaces_every_occurrence() {
        let secrets = vec!["sk-secret-1".to_string(), "ab".to_string()];
        let s = scrub("key sk-secret-1 and again sk-secret-1; ab stays", &secrets);
        assert_eq!(s, "key [redacted] and again [redacted]; ab stays");
    }

    #[test]
    fn shapes_of_an_echo_are_all_removed() {
        let json_escaped: String = KEY
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect();
        let mixed: String = KEY
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    format!("\\u{:04x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect();
        let percent: String = KEY.bytes().map(|c| format!("%{c:02X}")).collect();
        let entities: String = KEY.bytes().map(|c| format!("&#{c};")).collect();
        let hex_entities: String = KEY.bytes().map(|c| format!("&#x{c:x};")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{KEY}"));
        let b64_url = base64::engine::general_purpose::URL_SAFE.encode(format!("ab{KEY}"));
        for shape in [
            KEY.to_string(),
            KEY.to_uppercase(),
            KEY[..12].to_string(),
            KEY[7..].to_string(),
            json_escaped,
            mixed,
            percent,
            entities,
            hex_entities,
        ] {
            let text = format!("{{\"error\": \"bad key {shape} given\"}}");
            let s = scrub(&text, &keys());
            assert!(!leaks(&s), "{shape} -> {s}");
            assert!(s.contains("[redacted]") && s.contains("bad key "), "{s}");
            assert!(s.ends_with(" given\"}"), "{s}");
        }
        for enc in [b64, b64_url] {
            let s = scrub(&format!("auth {enc} end"), &keys());
            assert!(
                s.contains("[redacted]") && s.ends_with(" end"),
                "{enc} -> {s}"
            );
        }
    }

    #[test]
    fn seven_characters_are_not_a_key_and_ordinary_text_stays() {
        let text = format!("the sk-Test and {} and 4f9a2c7 words", &KEY[..7]);
        assert_eq!(scrub(&text, &keys()), text);
        let plain = "é ü 日本 \\u00e9 %ZZ &#; &#x; \\ % & ordinary text";
        assert_eq!(scrub(plain, &keys()), plain);
    }

    #[test]
    fn multibyte_text_around_a_key_is_kept_whole() {
        let s = scrub(&format!("日本{KEY}語"), &keys());
        assert_eq!(s, "日本[redacted]語");
    }
}

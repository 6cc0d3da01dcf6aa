//! Detects and repairs plans whose UTF-8 text was once decoded as Mac Roman or Windows-1252.
//!
//! Such a plan is valid UTF-8, but every character of the original text was
//! written as the UTF-8 of the chars its bytes mean in the wrong codepage:
//! "✓" (E2 9C 93) reads "‚úì" through Mac Roman and "âœ“" through Windows-1252,
//! "—" reads "‚Äî" / "â€”".
//!
//! [`decode`] repairs such a text exactly: it maps every char back to its single
//! byte in the codepage and decodes those bytes as UTF-8, and accepts the result
//! only when all of that succeeds, changes the text and re-encodes to exactly the
//! input. Anything else stays as it is ([`Encoding::Utf8`]). [`encode`] is the
//! inverse, so a plan round-trips byte for byte:
//! `encode(&d.text, d.encoding, d.bom) == bytes` where `d = decode(bytes)?`.
//!
//! The tables follow Python's `mac_roman` and `cp1252` codecs, with two
//! additions: Mac Roman byte 0xDB decodes as U+20AC "€" (as Python does) but the
//! old Apple mapping U+00A4 "¤" is accepted for it by [`repair`] (a file using
//! "¤" cannot be written back byte for byte, so [`decode`] leaves it as
//! UTF-8), and the five bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F
//! 0x90 0x9D) map to the C1 controls of the same number both ways, as WHATWG
//! does.
//!
//! A mojibake BOM ("Ôªø" / "ï»¿") is repaired into a leading U+FEFF kept in
//! the text; `bom` only reports a real UTF-8 BOM at the start of the file.

use std::fmt;

/// How a plan's bytes became its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Plain UTF-8: the text is the file's bytes (less a BOM).
    #[default]
    Utf8,
    /// UTF-8 text that was once decoded as Mac Roman and saved again as UTF-8.
    MacRomanRepaired,
    /// UTF-8 text that was once decoded as Windows-1252 and saved again as UTF-8.
    Windows1252Repaired,
}

impl Encoding {
    /// The name shown to users: "utf-8", "mac-roman-repaired" or "windows-1252-repaired".
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::MacRomanRepaired => "mac-roman-repaired",
            Encoding::Windows1252Repaired => "windows-1252-repaired",
        }
    }

    fn codepage(self) -> Option<&'static Codepage> {
        match self {
            Encoding::Utf8 => None,
            Encoding::MacRomanRepaired => Some(&MAC_ROMAN),
            Encoding::Windows1252Repaired => Some(&WINDOWS_1252),
        }
    }
}

/// A plan file's text and how to write it back.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The (repaired) text, without a BOM.
    pub text: String,
    /// How the file's bytes relate to `text`.
    pub encoding: Encoding,
    /// A UTF-8 BOM (EF BB BF) was stripped from the start of the file.
    pub bom: bool,
}

/// Why a file cannot be read as a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// bytes that are not UTF-8 at all; `line` 1-based, `offset` byte offset
    NotUtf8 { line: usize, offset: usize },
    /// a NUL byte or a high share of control characters: not a text file
    Binary { line: usize, offset: usize },
}

impl DecodeError {
    /// The 1-based line the problem is on.
    pub fn line(&self) -> usize {
        match self {
            DecodeError::NotUtf8 { line, .. } | DecodeError::Binary { line, .. } => *line,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotUtf8 { line, offset } => {
                write!(f, "not valid UTF-8 at line {line} (byte {offset})")
            }
            DecodeError::Binary { line, offset } => write!(
                f,
                "binary data at line {line} (byte {offset}): a plan must be a text file"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Reads a plan file's bytes: strips a UTF-8 BOM, rejects binary data and
/// invalid UTF-8, and repairs Mac Roman / Windows-1252 mojibake.
///
/// Error offsets count bytes from the start of the file (BOM included); lines
/// are 1-based and counted by `\n`.
///
/// # Errors
///
/// [`DecodeError::Binary`] for a NUL byte or more than one control character
/// (other than tab, LF, CR, form feed, ESC) in twenty bytes;
/// [`DecodeError::NotUtf8`] for bytes that are not UTF-8.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let (bom, repaired) = check(bytes)?;
    let start = if bom { BOM.len() } else { 0 };
    let (text, encoding) = match repaired {
        Some((encoding, repaired)) => (repaired, encoding),
        // `check` read it as UTF-8.
        None => (
            String::from_utf8_lossy(&bytes[start..]).into_owned(),
            Encoding::Utf8,
        ),
    };
    Ok(Decoded {
        text,
        encoding,
        bom,
    })
}

/// [`decode`] that keeps `bytes` as the text when it needs no repair: a
/// plan is then held once while it is parsed, not twice.
pub fn decode_owned(mut bytes: Vec<u8>) -> Result<Decoded, DecodeError> {
    let (bom, repaired) = check(&bytes)?;
    let (text, encoding) = match repaired {
        Some((encoding, repaired)) => (repaired, encoding),
        None => {
            if bom {
                bytes.drain(..BOM.len());
            }
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            (text, Encoding::Utf8)
        }
    };
    Ok(Decoded {
        text,
        encoding,
        bom,
    })
}

/// Whether `bytes` start with a BOM, and the repaired text when they are
/// mis-encoded; an error when they are not text.
fn check(bytes: &[u8]) -> Result<(bool, Option<(Encoding, String)>), DecodeError> {
    let bom = bytes.starts_with(&BOM);
    let start = if bom { BOM.len() } else { 0 };
    check_text(bytes, start)?;
    let text = std::str::from_utf8(&bytes[start..]).map_err(|e| {
        let offset = start + e.valid_up_to();
        DecodeError::NotUtf8 {
            line: line_at(bytes, offset),
            offset,
        }
    })?;
    Ok((bom, detect(text)))
}

/// The inverse of `decode`: bytes to write for `text` in the file's own encoding.
///
/// For the repaired encodings every UTF-8 byte of `text` is written as the UTF-8
/// of the char that byte means in the codepage, recreating the file's mojibake.
#[must_use]
pub fn encode(text: &str, encoding: Encoding, bom: bool) -> Vec<u8> {
    let prefix = if bom { BOM.len() } else { 0 };
    let Some(codepage) = encoding.codepage() else {
        let mut out = Vec::with_capacity(prefix + text.len());
        if bom {
            out.extend_from_slice(&BOM);
        }
        out.extend_from_slice(text.as_bytes());
        return out;
    };
    let high = text.bytes().filter(|&b| b >= 0x80).count();
    let mut out = Vec::with_capacity(prefix + text.len() + 2 * high);
    if bom {
        out.extend_from_slice(&BOM);
    }
    let mut buf = [0u8; 4];
    for &b in text.as_bytes() {
        if b < 0x80 {
            out.push(b);
        } else {
            let c = codepage.char_of(b);
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// Repair a text that is mojibake of `via`; None when it does not round-trip or does not change.
///
/// Every char must map to a single byte of the codepage and those bytes must be
/// valid UTF-8. `via == Encoding::Utf8` and ASCII-only texts give None.
#[must_use]
pub fn repair(text: &str, via: Encoding) -> Option<String> {
    repair_in(text, via.codepage()?, false)
}

/// [`repair`] through `codepage`; with `exact`, also None unless the result
/// re-encodes to exactly `text` ([`encode`] maps each byte back to one
/// char, so that holds when every char is the one its byte maps back to:
/// Mac Roman 0xDB has two source chars). ASCII runs are copied whole.
fn repair_in(text: &str, codepage: &Codepage, exact: bool) -> Option<String> {
    let src = text.as_bytes();
    let mut bytes = Vec::with_capacity(text.len());
    let mut at = 0;
    while let Some(pos) = next_non_ascii(src, at) {
        bytes.extend_from_slice(&src[at..pos]);
        let c = text[pos..].chars().next()?;
        let b = codepage.byte_of(c)?;
        if exact && codepage.char_of(b) != c {
            return None;
        }
        bytes.push(b);
        at = pos + c.len_utf8();
    }
    if at == 0 {
        return None; // ASCII: nothing to repair
    }
    bytes.extend_from_slice(&src[at..]);
    let repaired = String::from_utf8(bytes).ok()?;
    (repaired != text).then_some(repaired)
}

/// Rejects NUL bytes and texts with a high share of control characters.
fn check_text(bytes: &[u8], start: usize) -> Result<(), DecodeError> {
    let body = &bytes[start..];
    // One branch-free pass; the common case (no stray controls) stops here.
    let controls = count_stray_controls(body);
    if controls == 0 {
        return Ok(());
    }
    let binary_at = |i: usize| {
        let offset = start + i;
        DecodeError::Binary {
            line: line_at(bytes, offset),
            offset,
        }
    };
    if let Some(i) = body.iter().position(|&b| b == 0) {
        return Err(binary_at(i));
    }
    // More than one byte in twenty is a control character: not prose.
    if controls * 20 > body.len() {
        let i = body.iter().position(|&b| is_stray_control(b)).unwrap_or(0);
        return Err(binary_at(i));
    }
    Ok(())
}

/// How many bytes of `body` are [stray controls](is_stray_control); counted in
/// blocks with a byte-wide accumulator so that the loop vectorizes.
fn count_stray_controls(body: &[u8]) -> usize {
    let mut chunks = body.chunks_exact(128);
    let mut total = 0usize;
    for chunk in &mut chunks {
        let mut n = 0u8;
        for &b in chunk {
            n += u8::from(is_stray_control(b));
        }
        total += usize::from(n);
    }
    total
        + chunks
            .remainder()
            .iter()
            .filter(|&&b| is_stray_control(b))
            .count()
}

/// C0 control bytes that do not occur in ordinary text (tab, LF, CR, form feed
/// and ESC do). NUL counts.
#[inline]
fn is_stray_control(b: u8) -> bool {
    b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r' && b != 0x0C && b != 0x1B
}

/// The 1-based line of byte `offset`.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Picks the repair for `text`, if any: a codepage whose mojibake signature the
/// text shows, whose repair succeeds and whose result re-encodes to exactly
/// `text`. With two candidates, the result with fewer non-ASCII chars wins
/// (then the one with fewer unusual chars, then Mac Roman).
fn detect(text: &str) -> Option<(Encoding, String)> {
    if text.is_ascii() {
        return None;
    }
    let (mac, windows) = signatures(text);
    // Each repair must round-trip: Mac Roman 0xDB has two source chars,
    // and only one of them comes back.
    let candidate = |encoding: Encoding, signed: bool| {
        let codepage = encoding.codepage()?;
        signed
            .then(|| repair_in(text, codepage, true))?
            .map(|repaired| (encoding, repaired))
    };
    match (
        candidate(Encoding::MacRomanRepaired, mac),
        candidate(Encoding::Windows1252Repaired, windows),
    ) {
        (Some(m), Some(w)) => Some(if score(&w.1) < score(&m.1) { w } else { m }),
        (m, w) => m.or(w),
    }
}

/// (non-ASCII chars, uncommon chars) of a repair candidate: lower is more
/// plausible. The second count only breaks ties, e.g. "LÎ©æ—¥*" is
/// Windows-1252 mojibake of "LΩ日*" and Mac Roman mojibake of "Lꦾѵ*".
fn score(text: &str) -> (usize, usize) {
    let mut non_ascii = 0;
    let mut uncommon = 0;
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        if !is_common(c) {
            uncommon += 1;
        }
    }
    (non_ascii, uncommon)
}

/// Chars from blocks that plans commonly hold: Latin, Greek, Cyrillic, Hebrew,
/// Arabic, Thai, punctuation and symbols, CJK, Hangul, emoji.
fn is_common(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00A0..=0x024F     // Latin-1 Supplement, Latin Extended-A/B
            | 0x0370..=0x052F // Greek, Cyrillic
            | 0x0590..=0x06FF // Hebrew, Arabic
            | 0x0E00..=0x0E7F // Thai
            | 0x1E00..=0x1EFF // Latin Extended Additional
            | 0x2000..=0x2BFF // punctuation, currency, arrows, math, shapes, dingbats
            | 0x3000..=0x30FF // CJK punctuation, kana
            | 0x4E00..=0x9FFF // CJK ideographs
            | 0xAC00..=0xD7AF // Hangul
            | 0xFE00..=0xFE0F // variation selectors
            | 0xFF00..=0xFFEF // fullwidth forms
            | 0x1F000..=0x1FAFF // emoji
    )
}

/// A UTF-8 validator fed one byte at a time: the bytes a text maps to in one
/// codepage.
#[derive(Clone, Copy)]
struct Utf8Stream {
    /// Continuation bytes still expected.
    need: u8,
    /// Allowed range of the next continuation byte.
    lo: u8,
    hi: u8,
    /// The stream has held a complete multi-byte sequence.
    signed: bool,
    /// The stream cannot be UTF-8 (or a char has no byte).
    failed: bool,
}

impl Utf8Stream {
    const NEW: Utf8Stream = Utf8Stream {
        need: 0,
        lo: 0x80,
        hi: 0xBF,
        signed: false,
        failed: false,
    };

    /// Feeds one byte >= 0x80.
    #[inline]
    fn push(&mut self, b: u8) {
        if self.need > 0 {
            if b < self.lo || b > self.hi {
                self.failed = true;
                return;
            }
            self.need -= 1;
            self.lo = 0x80;
            self.hi = 0xBF;
            self.signed |= self.need == 0;
            return;
        }
        (self.need, self.lo, self.hi) = match b {
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => {
                self.failed = true;
                return;
            }
        };
    }
}

/// Whether `text` can be Mac Roman / Windows-1252 mojibake: every char has a
/// byte in the codepage, those bytes are valid UTF-8, and they hold at least
/// one multi-byte sequence (a char mapping to a lead byte directly followed by
/// chars mapping to continuation bytes). That is exactly when [`repair`]
/// succeeds, computed without allocating: ASCII is skipped a word at a time and
/// the scan stops as soon as both codepages have failed, which for clean UTF-8
/// is at the first char neither codepage has ("✓", emoji, CJK …) or the first
/// accent not followed by a continuation-mapped char ("é ", "—x").
fn signatures(text: &str) -> (bool, bool) {
    let bytes = text.as_bytes();
    let pages = [&MAC_ROMAN, &WINDOWS_1252];
    let mut streams = [Utf8Stream::NEW; 2];
    let mut prev_end = 0;
    let mut next = next_non_ascii(bytes, 0);
    while let Some(pos) = next {
        // `text` is valid UTF-8: decode the char at `pos` by hand.
        let lead = u32::from(bytes[pos]);
        let cont = |k: usize| u32::from(bytes[pos + k] & 0x3F);
        let (cp, len) = if lead < 0xE0 {
            ((lead & 0x1F) << 6 | cont(1), 2)
        } else if lead < 0xF0 {
            ((lead & 0x0F) << 12 | cont(1) << 6 | cont(2), 3)
        } else {
            (
                (lead & 0x07) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3),
                4,
            )
        };
        // ASCII between the previous char and this one ends any sequence.
        let after_ascii = pos != prev_end;
        for (stream, page) in streams.iter_mut().zip(pages) {
            if stream.failed {
                continue;
            }
            if after_ascii && stream.need > 0 {
                stream.failed = true;
                continue;
            }
            match page.byte_of_cp(cp) {
                Some(b) => stream.push(b),
                None => stream.failed = true,
            }
        }
        if streams.iter().all(|s| s.failed) {
            return (false, false);
        }
        prev_end = pos + len;
        next = next_non_ascii(bytes, prev_end);
    }
    let ok = |s: &Utf8Stream| !s.failed && s.need == 0 && s.signed;
    (ok(&streams[0]), ok(&streams[1]))
}

/// Index of the first byte >= 0x80 at or after `from`.
#[inline]
fn next_non_ascii(bytes: &[u8], from: usize) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 16 <= bytes.len() {
        let a = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
        let b = u64::from_le_bytes(bytes[i + 8..i + 16].try_into().unwrap_or([0; 8]));
        if (a | b) & HIGH != 0 {
            break;
        }
        i += 16;
    }
    bytes[i..].iter().position(|&b| b >= 0x80).map(|p| i + p)
}

/// A single-byte codepage whose bytes 0x00..=0x7F are ASCII.
struct Codepage {
    /// The char of each byte 0x80..=0xFF.
    high: [char; 128],
    /// For each 256-char block of the BMP, 1 + its index in `blocks`, or 0
    /// when the codepage has no char in that block.
    pages: [u8; 256],
    /// The byte of each char of a block (0 = none).
    blocks: &'static [[u8; 256]],
}

impl Codepage {
    #[inline]
    fn char_of(&self, b: u8) -> char {
        if b < 0x80 {
            char::from(b)
        } else {
            self.high[usize::from(b - 0x80)]
        }
    }

    #[inline]
    fn byte_of(&self, c: char) -> Option<u8> {
        self.byte_of_cp(u32::from(c))
    }

    #[inline]
    fn byte_of_cp(&self, cp: u32) -> Option<u8> {
        if cp < 0x80 {
            return Some(cp as u8);
        }
        let page = *self.pages.get((cp >> 8) as usize)?;
        if page == 0 {
            return None;
        }
        let b = self.blocks[usize::from(page - 1)][(cp & 0xFF) as usize];
        (b != 0).then_some(b)
    }
}

/// Every (char, byte) pair of a table and its extra char-to-byte entries, as a
/// const-friendly list: entry `k < 128` is `high[k]`, the rest are `extra`.
const fn entry(high: &[char; 128], extra: &[(char, u8)], k: usize) -> (u32, u8) {
    if k < 128 {
        (high[k] as u32, 0x80 + k as u8)
    } else {
        (extra[k - 128].0 as u32, extra[k - 128].1)
    }
}

/// Page index table of a codepage (see [`Codepage::pages`]).
const fn build_pages(high: &[char; 128], extra: &[(char, u8)]) -> [u8; 256] {
    let mut pages = [0u8; 256];
    let mut used = 0u8;
    let mut k = 0;
    while k < 128 + extra.len() {
        let (cp, b) = entry(high, extra, k);
        assert!(
            cp >= 0x80 && cp <= 0xFFFF,
            "codepage char must be a non-ASCII BMP char"
        );
        assert!(b >= 0x80, "codepage entry for an ASCII byte");
        let page = (cp >> 8) as usize;
        if pages[page] == 0 {
            used += 1;
            pages[page] = used;
        }
        k += 1;
    }
    pages
}

/// Number of blocks [`build_pages`] uses.
const fn count_blocks(high: &[char; 128], extra: &[(char, u8)]) -> usize {
    let pages = build_pages(high, extra);
    let mut max = 0;
    let mut i = 0;
    while i < 256 {
        if pages[i] as usize > max {
            max = pages[i] as usize;
        }
        i += 1;
    }
    max
}

/// The block tables of a codepage (see [`Codepage::blocks`]).
const fn build_blocks<const N: usize>(high: &[char; 128], extra: &[(char, u8)]) -> [[u8; 256]; N] {
    let pages = build_pages(high, extra);
    let mut blocks = [[0u8; 256]; N];
    let mut k = 0;
    while k < 128 + extra.len() {
        let (cp, b) = entry(high, extra, k);
        let block = pages[(cp >> 8) as usize] as usize - 1;
        let slot = (cp & 0xFF) as usize;
        assert!(blocks[block][slot] == 0, "a char maps to two bytes");
        blocks[block][slot] = b;
        k += 1;
    }
    blocks
}

/// Mac Roman bytes 0x80..=0xFF as Python's `mac_roman` decodes them.
const MAC_ROMAN_HIGH: [char; 128] = [
    '\u{00C4}', '\u{00C5}', '\u{00C7}', '\u{00C9}', '\u{00D1}', '\u{00D6}', '\u{00DC}',
    '\u{00E1}', // 0x80
    '\u{00E0}', '\u{00E2}', '\u{00E4}', '\u{00E3}', '\u{00E5}', '\u{00E7}', '\u{00E9}',
    '\u{00E8}', // 0x88
    '\u{00EA}', '\u{00EB}', '\u{00ED}', '\u{00EC}', '\u{00EE}', '\u{00EF}', '\u{00F1}',
    '\u{00F3}', // 0x90
    '\u{00F2}', '\u{00F4}', '\u{00F6}', '\u{00F5}', '\u{00FA}', '\u{00F9}', '\u{00FB}',
    '\u{00FC}', // 0x98
    '\u{2020}', '\u{00B0}', '\u{00A2}', '\u{00A3}', '\u{00A7}', '\u{2022}', '\u{00B6}',
    '\u{00DF}', // 0xA0
    '\u{00AE}', '\u{00A9}', '\u{2122}', '\u{00B4}', '\u{00A8}', '\u{2260}', '\u{00C6}',
    '\u{00D8}', // 0xA8
    '\u{221E}', '\u{00B1}', '\u{2264}', '\u{2265}', '\u{00A5}', '\u{00B5}', '\u{2202}',
    '\u{2211}', // 0xB0
    '\u{220F}', '\u{03C0}', '\u{222B}', '\u{00AA}', '\u{00BA}', '\u{03A9}', '\u{00E6}',
    '\u{00F8}', // 0xB8
    '\u{00BF}', '\u{00A1}', '\u{00AC}', '\u{221A}', '\u{0192}', '\u{2248}', '\u{2206}',
    '\u{00AB}', // 0xC0
    '\u{00BB}', '\u{2026}', '\u{00A0}', '\u{00C0}', '\u{00C3}', '\u{00D5}', '\u{0152}',
    '\u{0153}', // 0xC8
    '\u{2013}', '\u{2014}', '\u{201C}', '\u{201D}', '\u{2018}', '\u{2019}', '\u{00F7}',
    '\u{25CA}', // 0xD0
    '\u{00FF}', '\u{0178}', '\u{2044}', '\u{20AC}', '\u{2039}', '\u{203A}', '\u{FB01}',
    '\u{FB02}', // 0xD8
    '\u{2021}', '\u{00B7}', '\u{201A}', '\u{201E}', '\u{2030}', '\u{00C2}', '\u{00CA}',
    '\u{00C1}', // 0xE0
    '\u{00CB}', '\u{00C8}', '\u{00CD}', '\u{00CE}', '\u{00CF}', '\u{00CC}', '\u{00D3}',
    '\u{00D4}', // 0xE8
    '\u{F8FF}', '\u{00D2}', '\u{00DA}', '\u{00DB}', '\u{00D9}', '\u{0131}', '\u{02C6}',
    '\u{02DC}', // 0xF0
    '\u{00AF}', '\u{02D8}', '\u{02D9}', '\u{02DA}', '\u{00B8}', '\u{02DD}', '\u{02DB}',
    '\u{02C7}', // 0xF8
];

/// Mac Roman chars accepted for a byte besides [`MAC_ROMAN_HIGH`]: Apple's old
/// table has U+00A4 "¤" at 0xDB, where Python and Apple's current table have "€".
const MAC_ROMAN_EXTRA: [(char, u8); 1] = [('\u{00A4}', 0xDB)];

/// Windows-1252 bytes 0x80..=0xFF as Python's `cp1252` decodes them, the five
/// undefined bytes (0x81 0x8D 0x8F 0x90 0x9D) as the C1 controls of the same
/// number (WHATWG).
const WINDOWS_1252_HIGH: [char; 128] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
    '\u{2021}', // 0x80
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}',
    '\u{008F}', // 0x88
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
    '\u{2014}', // 0x90
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}',
    '\u{0178}', // 0x98
    '\u{00A0}', '\u{00A1}', '\u{00A2}', '\u{00A3}', '\u{00A4}', '\u{00A5}', '\u{00A6}',
    '\u{00A7}', // 0xA0
    '\u{00A8}', '\u{00A9}', '\u{00AA}', '\u{00AB}', '\u{00AC}', '\u{00AD}', '\u{00AE}',
    '\u{00AF}', // 0xA8
    '\u{00B0}', '\u{00B1}', '\u{00B2}', '\u{00B3}', '\u{00B4}', '\u{00B5}', '\u{00B6}',
    '\u{00B7}', // 0xB0
    '\u{00B8}', '\u{00B9}', '\u{00BA}', '\u{00BB}', '\u{00BC}', '\u{00BD}', '\u{00BE}',
    '\u{00BF}', // 0xB8
    '\u{00C0}', '\u{00C1}', '\u{00C2}', '\u{00C3}', '\u{00C4}', '\u{00C5}', '\u{00C6}',
    '\u{00C7}', // 0xC0
    '\u{00C8}', '\u{00C9}', '\u{00CA}', '\u{00CB}', '\u{00CC}', '\u{00CD}', '\u{00CE}',
    '\u{00CF}', // 0xC8
    '\u{00D0}', '\u{00D1}', '\u{00D2}', '\u{00D3}', '\u{00D4}', '\u{00D5}', '\u{00D6}',
    '\u{00D7}', // 0xD0
    '\u{00D8}', '\u{00D9}', '\u{00DA}', '\u{00DB}', '\u{00DC}', '\u{00DD}', '\u{00DE}',
    '\u{00DF}', // 0xD8
    '\u{00E0}', '\u{00E1}', '\u{00E2}', '\u{00E3}', '\u{00E4}', '\u{00E5}', '\u{00E6}',
    '\u{00E7}', // 0xE0
    '\u{00E8}', '\u{00E9}', '\u{00EA}', '\u{00EB}', '\u{00EC}', '\u{00ED}', '\u{00EE}',
    '\u{00EF}', // 0xE8
    '\u{00F0}', '\u{00F1}', '\u{00F2}', '\u{00F3}', '\u{00F4}', '\u{00F5}', '\u{00F6}',
    '\u{00F7}', // 0xF0
    '\u{00F8}', '\u{00F9}', '\u{00FA}', '\u{00FB}', '\u{00FC}', '\u{00FD}', '\u{00FE}',
    '\u{00FF}', // 0xF8
];

static MAC_ROMAN_BLOCKS: [[u8; 256]; count_blocks(&MAC_ROMAN_HIGH, &MAC_ROMAN_EXTRA)] =
    build_blocks(&MAC_ROMAN_HIGH, &MAC_ROMAN_EXTRA);

static MAC_ROMAN: Codepage = Codepage {
    high: MAC_ROMAN_HIGH,
    pages: build_pages(&MAC_ROMAN_HIGH, &MAC_ROMAN_EXTRA),
    blocks: &MAC_ROMAN_BLOCKS,
};

static WINDOWS_1252_BLOCKS: [[u8; 256]; count_blocks(&WINDOWS_1252_HIGH, &[])] =
    build_blocks(&WINDOWS_1252_HIGH, &[]);

static WINDOWS_1252: Codepage = Codepage {
    high: WINDOWS_1252_HIGH,
    pages: build_pages(&WINDOWS_1252_HIGH, &[]),
    blocks: &WINDOWS_1252_BLOCKS,
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    const MR: Encoding = Encoding::MacRomanRepaired;
    const W1252: Encoding = Encoding::Windows1252Repaired;

    /// The project's shared/ folder: `$EXPAND_SHARED`, else `../shared` next to
    /// the crate, else `/work/shared`; None (tests skip) when it has no fixtures.
    fn shared_dir() -> Option<PathBuf> {
        let candidates: Vec<PathBuf> = match std::env::var_os("EXPAND_SHARED") {
            Some(p) if !p.is_empty() => vec![PathBuf::from(p)],
            _ => vec![
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
                PathBuf::from("/work/shared"),
            ],
        };
        candidates
            .into_iter()
            .find(|p| p.join("fixtures/seeds").is_dir() && p.join("fixtures/real").is_dir())
    }

    fn seed(shared: &Path, prefix: &str) -> Vec<u8> {
        let dir = shared.join("fixtures/seeds");
        let entry = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("no seed {prefix}* in {}", dir.display()));
        std::fs::read(entry.path()).unwrap()
    }

    fn real(shared: &Path, topic: &str) -> String {
        let path = shared.join(format!(
            "fixtures/real/karpathy-deep-oracle--expansion-{topic}-2025-11-14.md"
        ));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn err(bytes: &[u8]) -> Option<DecodeError> {
        decode(bytes).err()
    }

    fn round_trips(bytes: &[u8]) -> Decoded {
        let d = decode(bytes).unwrap_or_else(|e| panic!("decode failed: {e}"));
        assert!(
            encode(&d.text, d.encoding, d.bom) == bytes,
            "encode(decode(bytes)) != bytes ({})",
            d.encoding.as_str()
        );
        d
    }

    /// The mojibake of `s` through `via`, built straight from the tables.
    fn mojibake(s: &str, via: Encoding) -> String {
        let page = via.codepage().unwrap();
        s.bytes().map(|b| page.char_of(b)).collect()
    }

    #[cfg_attr(
        not(has_shared),
        ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
    )]
    #[test]
    fn seeds_repair_to_the_real_originals() {
        let Some(shared) = shared_dir() else {
            eprintln!("skipping: no shared/fixtures (set EXPAND_SHARED)");
            return;
        };
        for (prefix, topic, via) in [
            ("000_", "gcp-gpu-cloud-ai", MR),
            ("001_", "performance-optimization", MR),
            ("003_", "vertex-ai-advanced", W1252),
        ] {
            let bytes = seed(&shared, prefix);
            let d = round_trips(&bytes);
            assert_eq!(d.encoding, via, "seed {prefix}");
            assert!(!d.bom);
            assert!(d.text == real(&shared, topic), "seed {prefix} != original");
            assert_eq!(
                repair(std::str::from_utf8(&bytes).unwrap(), via),
                Some(d.text)
            );
        }
    }

    #[cfg_attr(
        not(has_shared),
        ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
    )]
    #[test]
    fn all_seeds_and_originals_round_trip() {
        let Some(shared) = shared_dir() else {
            eprintln!("skipping: no shared/fixtures (set EXPAND_SHARED)");
            return;
        };
        for prefix in ["000_", "001_", "002_", "003_", "004_"] {
            let bytes = seed(&shared, prefix);
            let d = round_trips(&bytes);
            if prefix == "002_" || prefix == "004_" {
                assert_eq!(d.encoding, Encoding::Utf8, "seed {prefix}");
                assert_eq!(d.text.as_bytes(), &bytes[..]);
            }
            // With a BOM in front, too.
            let mut with_bom = BOM.to_vec();
            with_bom.extend_from_slice(&bytes);
            let b = round_trips(&with_bom);
            assert!(b.bom);
            assert_eq!((b.encoding, &b.text), (d.encoding, &d.text));
        }
        // The clean originals are clean.
        let dir = shared.join("fixtures/real");
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            let bytes = std::fs::read(entry.path()).unwrap();
            let d = round_trips(&bytes);
            assert_eq!(d.encoding, Encoding::Utf8, "{}", entry.path().display());
        }
    }

    #[test]
    fn known_mojibake_matches_python() {
        // Python: "✓".encode().decode("mac_roman") etc.
        assert_eq!(mojibake("✓", MR), "‚úì");
        assert_eq!(mojibake("—", MR), "‚Äî");
        assert_eq!(mojibake("🚀", MR), "\u{F8FF}üöÄ");
        assert_eq!(mojibake("✓", W1252), "âœ“");
        assert_eq!(mojibake("—", W1252), "â€”");
        assert_eq!(mojibake("🎯", W1252), "ðŸŽ¯");
        assert_eq!(mojibake("café", W1252), "cafÃ©");
        assert_eq!(
            repair("‚úì done ‚Äî ok", MR).as_deref(),
            Some("✓ done — ok")
        );
        assert_eq!(
            repair("âœ“ done â€” ok", W1252).as_deref(),
            Some("✓ done — ok")
        );
        let d = round_trips("- [‚úì] PART 1 ‚Äî done\n".as_bytes());
        assert_eq!((d.encoding, d.text.as_str()), (MR, "- [✓] PART 1 — done\n"));
        let d = round_trips("## ðŸŽ¯ Strategy: A Ã— B\n".as_bytes());
        assert_eq!(
            (d.encoding, d.text.as_str()),
            (W1252, "## 🎯 Strategy: A × B\n")
        );
    }

    #[test]
    fn tables_are_consistent() {
        for page in [&MAC_ROMAN, &WINDOWS_1252] {
            for b in 0..=255u8 {
                assert_eq!(page.byte_of(page.char_of(b)), Some(b), "byte {b:#04x}");
            }
        }
        assert_eq!(MAC_ROMAN.char_of(0xD1), '—');
        assert_eq!(MAC_ROMAN.char_of(0xC3), '√');
        assert_eq!(MAC_ROMAN.char_of(0xF0), '\u{F8FF}');
        assert_eq!(MAC_ROMAN.char_of(0xDB), '€');
        assert_eq!(MAC_ROMAN.byte_of('¤'), Some(0xDB));
        assert_eq!(MAC_ROMAN.byte_of('✓'), None);
        assert_eq!(MAC_ROMAN.byte_of('Š'), None);
        assert_eq!(WINDOWS_1252.char_of(0x80), '€');
        assert_eq!(WINDOWS_1252.char_of(0x9F), 'Ÿ');
        for b in [0x81u8, 0x8D, 0x8F, 0x90, 0x9D] {
            assert_eq!(WINDOWS_1252.char_of(b), char::from(b));
            assert_eq!(WINDOWS_1252.byte_of(char::from(b)), Some(b));
        }
        assert_eq!(WINDOWS_1252.byte_of('\u{80}'), None);
        assert_eq!(WINDOWS_1252.byte_of('√'), None);
        assert_eq!(WINDOWS_1252.byte_of('🎯'), None);
    }

    #[test]
    fn mac_roman_0xdb_accepts_both_currency_signs() {
        // U+06C0 is D8 80... no: U+06C0 = DB 80.
        let s = "\u{06C0}";
        assert_eq!(s.as_bytes(), &[0xDB, 0x80]);
        assert_eq!(repair("€Ä", MR).as_deref(), Some(s));
        assert_eq!(repair("¤Ä", MR).as_deref(), Some(s));
        // The Python form round-trips and is repaired on decode.
        let d = round_trips("€Ä".as_bytes());
        assert_eq!((d.encoding, d.text.as_str()), (MR, s));
        // The old-table form cannot be written back byte for byte: left alone.
        let d = round_trips("¤Ä".as_bytes());
        assert_eq!((d.encoding, d.text.as_str()), (Encoding::Utf8, "¤Ä"));
    }

    #[test]
    fn windows_1252_undefined_bytes_map_to_c1() {
        // "Á" is C3 81; 0x81 is undefined in cp1252.
        let m = mojibake("Á and Ý", W1252); // Ý = C3 9D
        assert_eq!(m, "Ã\u{81} and Ã\u{9D}");
        let d = round_trips(m.as_bytes());
        assert_eq!((d.encoding, d.text.as_str()), (W1252, "Á and Ý"));
    }

    #[test]
    fn clean_utf8_with_accents_stays_utf8() {
        for s in [
            "café — naïve ✓ Straße",
            "café",
            "— em dash – en dash … “quotes” ‘single’",
            "Grüße aus Köln, señor Ñoño, œuvre, Å, Ø, æ",
            "price: 5 € or £4 or ¥500 ± 2 °C, 10 µs, © ®",
            "π ≈ 3.14, ∞, ≤ ≥ ≠ √2 ∑ ∫",
            "🚀 launch 🎯 target ✅ done ❌ failed",
            "中文 日本語 한국어 العربية",
            "mixed ‚úì mojibake with a real ✓",
            "é\nè\nà",
        ] {
            let d = round_trips(s.as_bytes());
            assert_eq!(d.encoding, Encoding::Utf8, "{s:?}");
            assert_eq!(d.text, s);
            assert!(!d.bom);
        }
    }

    #[test]
    fn ascii_and_empty() {
        let d = round_trips(b"");
        assert_eq!(
            (d.encoding, d.text.as_str(), d.bom),
            (Encoding::Utf8, "", false)
        );
        let d = round_trips(b"# Plan\n\n- [ ] PART 1\r\n\tindented\x0c\x1b[1m\n");
        assert_eq!(d.encoding, Encoding::Utf8);
        assert_eq!(repair("plain ascii", MR), None);
        assert_eq!(repair("plain ascii", W1252), None);
        assert_eq!(repair("‚úì", Encoding::Utf8), None);
    }

    #[test]
    fn repair_fails_without_round_trip() {
        assert_eq!(repair("café", W1252), None); // E9 alone is not UTF-8
        assert_eq!(repair("café", MR), None);
        assert_eq!(repair("‚úì and ✓", MR), None); // ✓ has no Mac Roman byte
        assert_eq!(repair("âœ“ and ✓", W1252), None);
        assert_eq!(repair("‚úì", W1252), None); // √ is not in cp1252
        assert_eq!(repair("Ã", W1252), None); // truncated sequence
    }

    #[test]
    fn bom_handling() {
        let d = round_trips(&BOM);
        assert_eq!(
            (d.encoding, d.text.as_str(), d.bom),
            (Encoding::Utf8, "", true)
        );
        let mut bytes = BOM.to_vec();
        bytes.extend_from_slice("# Plan ✓\n".as_bytes());
        let d = round_trips(&bytes);
        assert_eq!(
            (d.encoding, d.text.as_str(), d.bom),
            (Encoding::Utf8, "# Plan ✓\n", true)
        );
        let mut bytes = BOM.to_vec();
        bytes.extend_from_slice("# Plan ‚úì\n".as_bytes());
        let d = round_trips(&bytes);
        assert_eq!(
            (d.encoding, d.text.as_str(), d.bom),
            (MR, "# Plan ✓\n", true)
        );
        assert_eq!(encode("x", Encoding::Utf8, true), b"\xEF\xBB\xBFx");
        assert_eq!(encode("✓", MR, true), "\u{FEFF}‚úì".as_bytes());
        assert_eq!(encode("✓", W1252, false), "âœ“".as_bytes());
        // A BOM that went through the mojibake stays in the text.
        let d = round_trips("Ôªø# Plan ‚úì\n".as_bytes());
        assert_eq!(
            (d.encoding, d.text.as_str(), d.bom),
            (MR, "\u{FEFF}# Plan ✓\n", false)
        );
        // Only one BOM is stripped.
        let d = round_trips(b"\xEF\xBB\xBF\xEF\xBB\xBFx");
        assert_eq!((d.text.as_str(), d.bom), ("\u{FEFF}x", true));
    }

    #[test]
    fn binary_data_is_rejected() {
        assert_eq!(err(b"\0"), Some(DecodeError::Binary { line: 1, offset: 0 }));
        assert_eq!(
            err(b"# Plan\nok\nbad\0here"),
            Some(DecodeError::Binary {
                line: 3,
                offset: 13
            })
        );
        assert_eq!(
            err(b"\xEF\xBB\xBFa\nb\0"),
            Some(DecodeError::Binary { line: 2, offset: 6 })
        );
        // UTF-16 is valid UTF-8 byte for byte, but has NULs.
        assert!(matches!(
            decode(b"#\0 \0P\0"),
            Err(DecodeError::Binary { .. })
        ));
        // NUL wins over invalid UTF-8 later or earlier.
        assert!(matches!(
            decode(b"\xFF\x00"),
            Err(DecodeError::Binary { offset: 1, .. })
        ));
        // A high share of control characters.
        assert_eq!(
            err(b"ab\ncd\x01\x02\x03\x04\x05\x06"),
            Some(DecodeError::Binary { line: 2, offset: 5 })
        );
        // A stray control or two in real text is fine.
        let mut text = "line of text\n".repeat(20).into_bytes();
        text.extend_from_slice(b"bell \x07 here\n");
        assert_eq!(decode(&text).unwrap().encoding, Encoding::Utf8);
    }

    #[test]
    fn invalid_utf8_reports_line_and_offset() {
        let cases: [(&[u8], usize, usize); 8] = [
            (b"\xFF", 1, 0),
            (b"ab\xFF", 1, 2),
            (b"a\nb\nc\xFF", 3, 5),
            (b"a\r\nb\r\n\x80x", 3, 6),
            (b"line\n\xC3", 2, 5),                 // truncated at the end
            (b"ok\n\xC0\x80", 2, 3),               // overlong
            (b"x\n\n\xED\xA0\x80", 3, 3),          // surrogate
            (b"\xEF\xBB\xBFa\nb\n\xE2\x9C", 3, 7), // offset counts the BOM
        ];
        for (bytes, line, offset) in cases {
            assert_eq!(
                err(bytes),
                Some(DecodeError::NotUtf8 { line, offset }),
                "{bytes:?}"
            );
        }
        // Valid multi-byte text before the error counts in bytes.
        assert_eq!(
            err(&["✓\n— é\n".as_bytes(), &[0xFE]].concat()),
            Some(DecodeError::NotUtf8 {
                line: 3,
                offset: 11
            })
        );
    }

    #[test]
    fn error_messages() {
        let e = DecodeError::NotUtf8 {
            line: 3,
            offset: 120,
        };
        assert_eq!(e.to_string(), "not valid UTF-8 at line 3 (byte 120)");
        let e = DecodeError::Binary { line: 1, offset: 0 };
        assert_eq!(
            e.to_string(),
            "binary data at line 1 (byte 0): a plan must be a text file"
        );
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
        assert!(boxed.to_string().starts_with("binary data"));
        assert_eq!(Encoding::Utf8.as_str(), "utf-8");
        assert_eq!(MR.as_str(), "mac-roman-repaired");
        assert_eq!(W1252.as_str(), "windows-1252-repaired");
        assert_eq!(Encoding::default(), Encoding::Utf8);
    }

    /// splitmix64: a small deterministic generator for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick(&mut self, s: &str) -> char {
            let chars: Vec<char> = s.chars().collect();
            chars[self.below(chars.len())]
        }
    }

    const ASCII: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_#*[](){}<>/\\'\"`~|\n\t";
    const ACCENTS: &str = "éèêëàâäãåçñöôòóõüùûúíìîïÿßÁÉÍÓÚÀÈÅØÆæœŒÑÇ\u{A0}\u{AD}";
    const SYMBOLS: &str = "✓✗✔—–“”‘’…€£¥¤™•→←↑↓≥≤≠×÷°±µ§¶©®¬√∞≈∆∑∫πΩ\u{2009}\u{301}\u{81}";
    const WIDE: &str = "🚀🎯✅❌🔥📊🧠中文日本語한국어العربيةۀۿ۝ไทย\u{F8FF}\u{FEFF}";

    fn random_text(rng: &mut Rng, max_len: usize) -> String {
        let len = rng.below(max_len + 1);
        (0..len)
            .map(|_| match rng.below(10) {
                0..=4 => rng.pick(ASCII),
                5 | 6 => rng.pick(ACCENTS),
                7 | 8 => rng.pick(SYMBOLS),
                _ => rng.pick(WIDE),
            })
            .collect()
    }

    #[test]
    fn mojibake_round_trips_for_random_texts() {
        let mut rng = Rng(0x5EED_F0E4_CA11_u64);
        let (mut cases, mut ambiguous) = (0usize, 0usize);
        for round in 0..3000 {
            let s = random_text(&mut rng, 1 + round % 80);
            // Any valid text round-trips, whatever it is detected as.
            let d = round_trips(s.as_bytes());
            if d.encoding == Encoding::Utf8 {
                let expected = if d.bom { &s[BOM.len()..] } else { &s[..] };
                assert_eq!(d.text, expected);
            }
            for via in [MR, W1252] {
                let m = mojibake(&s, via);
                assert_eq!(encode(&s, via, false), m.as_bytes(), "{s:?}");
                let d = round_trips(m.as_bytes());
                if s.is_ascii() {
                    assert_eq!((d.encoding, d.text.as_str()), (Encoding::Utf8, s.as_str()));
                    continue;
                }
                cases += 1;
                assert_eq!(
                    repair(&m, via).as_deref(),
                    Some(s.as_str()),
                    "{s:?} via {via:?}"
                );
                if d.encoding != via {
                    // The mojibake is also valid mojibake of another text
                    // through the other codepage, which ranks no worse.
                    assert_ne!(d.encoding, Encoding::Utf8, "{s:?} -> {m:?}");
                    assert_eq!(repair(&m, d.encoding).as_deref(), Some(d.text.as_str()));
                    assert!(
                        score(&d.text) <= score(&s),
                        "{s:?} -> {m:?} -> {:?}",
                        d.text
                    );
                    ambiguous += 1;
                    continue;
                }
                assert_eq!(d.text, s, "{s:?} -> {m:?}");
                // And with a BOM in front.
                let mut with_bom = BOM.to_vec();
                with_bom.extend_from_slice(m.as_bytes());
                let b = round_trips(&with_bom);
                assert_eq!(
                    (b.encoding, b.text.as_str(), b.bom),
                    (via, s.as_str(), true)
                );
            }
        }
        eprintln!("{cases} mojibake texts, {ambiguous} ambiguous between the codepages");
        assert!(ambiguous * 200 < cases, "{ambiguous} of {cases} ambiguous");
    }

    #[test]
    fn random_mojibake_like_texts_round_trip() {
        // Texts made of codepage chars, many of which happen to repair.
        let mut rng = Rng(42);
        let mac: String = (0x80..=0xFFu8).map(|b| MAC_ROMAN.char_of(b)).collect();
        let win: String = (0x80..=0xFFu8).map(|b| WINDOWS_1252.char_of(b)).collect();
        let mut repaired = [0usize; 3];
        for _ in 0..3000 {
            let len = 1 + rng.below(12);
            let s: String = (0..len)
                .map(|_| match rng.below(3) {
                    0 => rng.pick("ab \n"),
                    1 => rng.pick(&mac),
                    _ => rng.pick(&win),
                })
                .collect();
            let d = round_trips(s.as_bytes());
            repaired[d.encoding as usize] += 1;
        }
        eprintln!("utf-8 / mac-roman / windows-1252: {repaired:?}");
        assert!(repaired[1] > 0 && repaired[2] > 0, "{repaired:?}");
    }

    fn big_plan(line: &str) -> Vec<u8> {
        let mut text = String::new();
        while text.len() < 1 << 20 {
            text.push_str(line);
        }
        text.into_bytes()
    }

    #[test]
    fn decode_is_fast_on_clean_text() {
        let cases = [
            (
                "ascii",
                big_plan("- [ ] PART 12: write the section on batching and retries\n"),
            ),
            (
                "checkmarks",
                big_plan("- [✓] PART 12: write the section — then review\n"),
            ),
            // Worst case: every char is in both codepages, so no early exit.
            (
                "accents",
                big_plan("- PART 12: café — naïve “résumé” for Zoë, ± 5 °C\n"),
            ),
        ];
        for (name, bytes) in cases {
            let mut best = std::time::Duration::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let d = decode(&bytes).unwrap();
                best = best.min(t.elapsed());
                assert_eq!(d.encoding, Encoding::Utf8);
            }
            eprintln!("decode 1 MiB {name}: {best:?}");
            #[cfg(not(debug_assertions))]
            assert!(
                best < std::time::Duration::from_millis(5),
                "{name}: {best:?}"
            );
        }
    }
}

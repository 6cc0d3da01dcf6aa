//! Small scanners over one line of plan text: numbers, `(~N lines)`, paths,
//! `PART N`, number lists. Each works on a single item or heading, never on a
//! whole file.

/// `s.trim()`, answered from the first and last byte when they are visible
/// ASCII (nearly always): the parser trims most strings it reads, and
/// `str::trim` decodes and classifies a char at each end even then.
pub fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [f, .., l] if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        [c] if c.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Strip a case-insensitive ASCII prefix.
pub fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let n = prefix.len();
    if s.len() >= n && s.is_char_boundary(n) && s[..n].eq_ignore_ascii_case(prefix) {
        Some(&s[n..])
    } else {
        None
    }
}

pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    find_ci(haystack, needle).is_some()
}

/// Where an ASCII needle first occurs in `haystack`, ignoring ASCII case.
pub fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    let h = haystack.as_bytes();
    match n.first() {
        // Jump between candidates for the first byte (either case) instead of
        // comparing a window at every offset: this runs on most items.
        Some(&c) if n.len() <= h.len() => {
            let (lo, up) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
            let last = h.len() - n.len();
            memchr::memchr2_iter(lo, up, &h[..=last])
                .find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
        }
        // An empty needle matches nothing (as the window scan did).
        _ => None,
    }
}

/// A leading unsigned integer (digits only) and the rest.
pub fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    if end == 0 || end > 9 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `PART 12: Title` / `PART 12 - Title` / `PART 12` → (12, "Title").
pub fn part_header(s: &str) -> Option<(u32, &str)> {
    let s = s.trim_start();
    let rest = s.strip_prefix("PART").or_else(|| s.strip_prefix("Part "))?;
    let rest = rest.trim_start();
    let (n, rest) = leading_number(rest)?;
    let rest = rest.trim_start();
    let title = rest
        .strip_prefix(':')
        .or_else(|| rest.strip_prefix(" -"))
        .or_else(|| rest.strip_prefix('-'))
        .or_else(|| rest.strip_prefix('—'));
    match title {
        Some(t) => Some((n, t.trim())),
        None if rest.is_empty() => Some((n, "")),
        None => None,
    }
}

/// `PART -1: Title` or `PART 99999999999: Title`: a PART header whose number
/// expand cannot hold (negative, or more than 9 digits). Returns the number
/// as written, so the PART is reported instead of vanishing.
pub fn bad_part_number(s: &str) -> Option<&str> {
    if part_header(s).is_some() {
        return None;
    }
    let s = s.trim_start();
    let rest = s.strip_prefix("PART").or_else(|| s.strip_prefix("Part "))?;
    let rest = rest.trim_start();
    let sign = usize::from(rest.starts_with('-') || rest.starts_with('−'));
    let sign_len = rest
        .chars()
        .next()
        .filter(|_| sign == 1)
        .map_or(0, char::len_utf8);
    let digits = rest[sign_len..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 0 || (sign == 0 && digits <= 9) {
        return None;
    }
    let after = rest[sign_len + digits..].trim_start();
    (after.is_empty() || after.starts_with(':') || after.starts_with('-') || after.starts_with('—'))
        .then(|| &rest[..sign_len + digits])
}

/// `Worker 3: Title` → (3, "Title").
pub fn worker_header(s: &str) -> Option<(u32, &str)> {
    let rest = s.trim_start().strip_prefix("Worker")?.trim_start();
    let (n, rest) = leading_number(rest)?;
    let rest = rest.trim_start();
    // "Worker 1-10 should …" is prose about several workers, not a worker.
    let title = rest.strip_prefix(':')?;
    Some((n, title.trim()))
}

/// `Step 2: Create Knowledge File` → (Some(2), "Create Knowledge File").
pub fn step_header(s: &str) -> Option<(Option<u32>, &str)> {
    let s = trim(trim(s).trim_start_matches('*'));
    let rest = strip_prefix_ci(s, "step")?;
    let rest = rest.trim_start();
    let (n, rest) = match leading_number(rest) {
        Some((n, r)) => (Some(n), r),
        None => (None, rest),
    };
    let rest = rest.trim_start();
    let name = rest
        .strip_prefix(':')
        .or_else(|| rest.strip_prefix('-'))
        .unwrap_or(rest);
    if n.is_none() && !rest.starts_with(':') {
        return None;
    }
    Some((
        n,
        trim(trim(name).trim_end_matches('*').trim_end_matches(':')),
    ))
}

/// A number written with thousands separators, optionally after `~`: "~16,800" → 16800.
/// Returns the value and the byte length consumed.
pub fn grouped_number(s: &str) -> Option<(u64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'~') {
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut digits = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            v = v.checked_mul(10)?.checked_add((b[i] - b'0') as u64)?;
            digits += 1;
            i += 1;
        } else if b[i] == b','
            && digits > 0
            && i + 3 < b.len() + 1
            && b.get(i + 1..i + 4)
                .map(|d| d.iter().all(u8::is_ascii_digit))
                .unwrap_or(false)
        {
            i += 1;
        } else {
            break;
        }
    }
    if digits == 0 || i == start {
        return None;
    }
    Some((v, i))
}

/// Every "N word" pair in a text, with N possibly "~16,800". Words are lowercased.
pub fn counted_words(s: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        let prev_ok = i == 0 || !(b[i - 1].is_ascii_alphanumeric());
        if prev_ok
            && (b[i].is_ascii_digit()
                || (b[i] == b'~' && b.get(i + 1).map(u8::is_ascii_digit).unwrap_or(false)))
        {
            if let Some((v, len)) = grouped_number(&s[i..]) {
                let after = &s[i + len..];
                let word: String = after
                    .trim_start_matches([' ', '\t'])
                    .chars()
                    .take_while(|c| c.is_alphanumeric())
                    .collect();
                if !word.is_empty() && after.starts_with([' ', '\t']) {
                    out.push((v, word.to_lowercase()));
                }
                i += len;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `(~700 lines)`, `(500 lines)`, `~100 lines` anywhere in a text.
pub fn expected_lines(s: &str) -> Option<u32> {
    // Called for most items and headings: skip the work (and the
    // allocations of `counted_words`) when the word is not there at all.
    if !contains_ci(s, "lines") {
        return None;
    }
    // `counted_words` without its Vec and word Strings: the first "N lines".
    // A word that lowercases to "lines" is ASCII, so an ASCII comparison agrees.
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // The number test first: it fails on most bytes.
        if (b[i].is_ascii_digit()
            || (b[i] == b'~' && b.get(i + 1).map(u8::is_ascii_digit).unwrap_or(false)))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric()))
        {
            if let Some((v, len)) = grouped_number(&s[i..]) {
                let after = &s[i + len..];
                if after.starts_with([' ', '\t']) {
                    let w = after.trim_start_matches([' ', '\t']);
                    let end = w
                        .char_indices()
                        .find(|(_, c)| !c.is_alphanumeric())
                        .map_or(w.len(), |(k, _)| k);
                    if w[..end].eq_ignore_ascii_case("lines") {
                        return u32::try_from(v).ok();
                    }
                }
                i += len;
                continue;
            }
        }
        i += 1;
    }
    None
}

/// Remove a trailing parenthetical like `(~700 lines)` or `(Completed …)`.
pub fn strip_lines_suffix(s: &str) -> &str {
    let t = s.trim_end();
    if t.ends_with(')') {
        if let Some(open) = t.rfind('(') {
            if expected_lines(&t[open..]).is_some() {
                return t[..open].trim_end();
            }
        }
    }
    t
}

/// `(strip_lines_suffix(s), expected_lines(s))`, with one scan when `s`
/// names no line count: a `(N lines)` suffix would be found in all of `s`.
pub fn title_and_lines(s: &str) -> (&str, Option<u32>) {
    match expected_lines(s) {
        None => (s.trim_end(), None),
        n => (strip_lines_suffix(s), n),
    }
}

/// Characters that may end a path token but are not part of it.
fn trim_token(t: &str) -> &str {
    t.trim_matches(|c: char| {
        matches!(
            c,
            '`' | '"' | '\'' | '(' | ')' | ',' | ';' | ':' | '*' | '[' | ']' | '<' | '>'
        )
    })
    .trim_end_matches('.')
}

/// Ends in `.md` (any case). Compares bytes: `t.len() - 3` may fall inside a
/// multi-byte character, where slicing the `str` would panic.
pub fn ends_with_md(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 3 && b[b.len() - 3..].eq_ignore_ascii_case(b".md")
}

/// The first whitespace-separated token that looks like a markdown path (`x.md`).
pub fn md_path(s: &str) -> Option<&str> {
    s.split_whitespace()
        .map(trim_token)
        .find(|t| t.len() > 3 && ends_with_md(t))
}

/// The path after the word "Create" (`Create gcp-gpu/00-x.md`), if it is a `.md` path
/// and not a KNOWLEDGE-DROP name.
pub fn create_target(s: &str) -> Option<&str> {
    // The first word that is "create" (any case): search for it rather
    // than split every word of the text, then check it stands alone.
    let mut from = 0;
    let after = loop {
        let i = from + find_ci(&s[from..], "create")?;
        let alone_before = s[..i].chars().next_back().map_or(true, char::is_whitespace);
        let alone_after = s[i + 6..].chars().next().map_or(true, char::is_whitespace);
        if alone_before && alone_after {
            break &s[i + 6..];
        }
        from = i + 1;
    };
    let next = after.split_whitespace().next().map(trim_token)?;
    if next.len() > 3
        && ends_with_md(next)
        && !next.contains("KNOWLEDGE-DROP")
        && !next.contains('[')
    {
        return Some(next);
    }
    None
}

/// A path-like token for a knowledge reference: contains `/` or ends with `.md`.
pub fn ref_token(s: &str) -> Option<&str> {
    // A token qualifies by a '/' or a `.md` ending: skip texts with neither.
    if memchr::memchr(b'/', s.as_bytes()).is_none() && !contains_ci(s, ".md") {
        return None;
    }
    s.split_whitespace()
        .map(trim_token)
        .filter(|t| !is_web_address(t))
        .find(|t| {
            (t.contains('/') && t.chars().any(|c| c.is_alphanumeric()))
                || (t.len() > 3 && ends_with_md(t))
        })
}

/// `https://…`, `www.x.org/…`, `arxiv.org/html/…`: a web address, never a
/// knowledge reference (a folder name does not hold a dot; `.` and `..`
/// are folders).
pub fn is_web_address(t: &str) -> bool {
    let lower = t.get(..8).unwrap_or(t).to_ascii_lowercase();
    if lower.starts_with("http:") || lower.starts_with("https:") || lower.starts_with("www.") {
        return true;
    }
    match t.split_once('/') {
        Some((host, _)) => {
            host != "."
                && host != ".."
                && host.contains('.')
                && !ends_with_md(host)
                && host.rsplit('.').next().is_some_and(|tld| {
                    tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
                })
        }
        None => false,
    }
}

/// The influential-file numbers a text names: `File 3`, `Files 1,5,9
/// explicitly`, `files 1-4 and 7` (SPEC §2: `File N` is entry N of the
/// plan's influential-files list). Words between "File" and the numbers
/// end the list: "4 files" or "file 3D models" name nothing.
pub fn file_numbers(s: &str) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    let mut from = 0;
    while let Some(i) = find_ci(&s[from..], "file").map(|i| from + i) {
        from = i + 4;
        let before_ok = s[..i]
            .chars()
            .next_back()
            .map_or(true, |c| !c.is_alphanumeric());
        let mut rest = &s[i + 4..];
        if rest.starts_with(['s', 'S']) {
            rest = &rest[1..];
        }
        if !before_ok || !rest.starts_with([' ', '#']) {
            continue;
        }
        let rest = rest.trim_start_matches([' ', '#']);
        // The run of numbers, separators and "and".
        let mut end = 0;
        let b = rest.as_bytes();
        while end < b.len() {
            let r = &rest[end..];
            if b[end].is_ascii_digit() || matches!(b[end], b',' | b' ' | b'&' | b'-') {
                end += 1;
            } else if r.starts_with('–') {
                end += '–'.len_utf8();
            } else if r.len() >= 4 && r[..4].eq_ignore_ascii_case("and ") {
                end += 4;
            } else {
                break;
            }
        }
        let run = &rest[..end];
        // "File 3D": a number glued to a word is not a file number.
        if b.get(end).is_some_and(|c| c.is_ascii_alphanumeric())
            && run.trim_end().len() == run.len()
        {
            let cut = run.trim_end_matches(|c: char| c.is_ascii_digit());
            if cut.trim().is_empty() {
                continue;
            }
            for n in number_list(cut) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            continue;
        }
        if !run.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        for n in number_list(run) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// "All 16 files", "all influential files": the whole influential-files
/// list of `listed` entries (a count that differs names something else).
pub fn all_files(s: &str, listed: usize) -> bool {
    let mut from = 0;
    while let Some(i) = find_ci(&s[from..], "all ").map(|i| from + i) {
        from = i + 4;
        if s[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let rest = s[i + 4..].trim_start();
        let (count, rest) = match leading_number(rest) {
            Some((n, r)) => (Some(n as usize), r.trim_start()),
            None => (None, rest),
        };
        let rest = strip_prefix_ci(rest, "influential ").unwrap_or(rest);
        let named = strip_prefix_ci(rest, "files").is_some();
        let whole_list = match count {
            Some(n) => n == listed,
            None => contains_ci(&s[i..], "influential"),
        };
        if named && whole_list {
            return true;
        }
    }
    false
}

/// "1, 5, 16", "1-16", "Files 3, (Vertex AI knowledge)" → the numbers, ranges expanded
/// (at most 10,000 numbers).
pub fn number_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for piece in s.split([',', ';', '+', '&']).flat_map(split_and) {
        let p = trim(piece);
        let p = trim(p.trim_start_matches(|c: char| c.is_alphabetic() || c == ' '));
        let Some((a, rest)) = leading_number(p) else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(r) = rest
            .strip_prefix('-')
            .or_else(|| rest.strip_prefix('–'))
            .or_else(|| rest.strip_prefix("to "))
        {
            if let Some((b, _)) = leading_number(r.trim_start()) {
                if b >= a && b - a < 10_000 {
                    out.extend(a..=b);
                    continue;
                }
            }
        }
        out.push(a);
    }
    out
}

/// `s.split(" and ")` without building a substring searcher for each piece.
fn split_and(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.as_bytes().windows(5).position(|w| w == b" and ") {
            Some(i) => {
                rest = Some(&r[i + 5..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Parse the PART list of a batch line: "PARTs 1-4", "PART 5", "PARTs 1, 2, 5-8".
/// Returns the numbers and the text after them (the title in parentheses).
pub fn batch_parts(s: &str) -> Option<(Vec<u32>, String)> {
    let s = s.trim();
    let rest = strip_prefix_ci(s, "parts").or_else(|| strip_prefix_ci(s, "part"))?;
    let rest = rest.trim_start();
    let end = rest.find('(').unwrap_or(rest.len());
    let nums = number_list(&rest[..end]);
    if nums.is_empty() {
        return None;
    }
    let title = rest[end..]
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim()
        .to_string();
    Some((nums, title))
}

/// Remove one pair of surrounding quotes.
pub fn unquote(s: &str) -> &str {
    let t = trim(s);
    for (a, b) in [('"', '"'), ('“', '”'), ('\'', '\''), ('`', '`')] {
        if t.len() >= 2 && t.starts_with(a) && t.ends_with(b) {
            return trim(&t[a.len_utf8()..t.len() - b.len_utf8()]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bug: `t[l - 3..]` sliced inside a multi-byte character, so a token
    /// like `éé` after "Create" (or in a Read item) panicked the parser.
    #[test]
    fn regression_md_suffix_check_on_multibyte_tokens() {
        for t in ["éé", "Create éé", "Read aéé", "x✓✓", "Create 日本語"] {
            assert_eq!(md_path(t), None, "{t}");
            assert_eq!(create_target(t), None, "{t}");
            let _ = ref_token(t);
        }
        assert_eq!(create_target("Create é/00-x.MD"), Some("é/00-x.MD"));
        let plan = crate::plan::parse::parse_text(
            "p.md",
            "# T\n\n## PART 1: Create éé\n\n- [ ] Read éé\n",
        );
        assert_eq!(plan.parts.len(), 1);
    }

    /// create_target looks for the word "create" instead of splitting every
    /// word of the text: it must agree with splitting, on every arrangement
    /// of these pieces (non-ASCII whitespace and look-alike words included).
    #[test]
    fn create_target_agrees_with_splitting_words() {
        fn by_words(s: &str) -> Option<&str> {
            let mut words = s.split_whitespace();
            while let Some(w) = words.next() {
                if w.eq_ignore_ascii_case("create") {
                    let next = words.next().map(trim_token)?;
                    let ok = next.len() > 3
                        && ends_with_md(next)
                        && !next.contains("KNOWLEDGE-DROP")
                        && !next.contains('[');
                    return ok.then_some(next);
                }
            }
            None
        }
        let pieces = [
            "Create",
            "cReAtE",
            "recreate",
            "creates",
            " ",
            "\u{a0}",
            "\t",
            "a/00-x.md",
            "`b.MD`,",
            "KNOWLEDGE-DROP-x.md",
            "x[1].md",
            "é",
            "(",
        ];
        let n = pieces.len();
        for k in 0..n * n * n * n {
            let s: String = [k % n, k / n % n, k / n / n % n, k / n / n / n]
                .iter()
                .map(|&i| pieces[i])
                .collect();
            assert_eq!(create_target(&s), by_words(&s), "{s:?}");
        }
    }

    #[test]
    fn web_addresses_are_not_references() {
        assert_eq!(
            ref_token("see arxiv.org/html/2401.1234 and a/b.md"),
            Some("a/b.md")
        );
        assert_eq!(ref_token("https://x.org/a.md"), None);
        assert_eq!(ref_token("www.nvidia.com/docs"), None);
        assert_eq!(
            ref_token("./knowledge/a/00-x.md"),
            Some("./knowledge/a/00-x.md")
        );
        assert_eq!(ref_token("v1.2/notes.md"), Some("v1.2/notes.md"));
    }

    #[test]
    fn all_files_names_the_whole_list() {
        assert!(all_files("All 16 files for cost analysis", 16));
        assert!(all_files("cite all influential files", 16));
        assert!(!all_files("All 4 files in distributed-training/", 16));
        assert!(!all_files("read all files in the folder", 16));
        assert!(!all_files("overall 16 files", 16));
    }

    #[test]
    fn file_numbers_read_the_influential_list_forms() {
        assert_eq!(
            file_numbers("Files 1,5,9 explicitly + Friston papers"),
            vec![1, 5, 9]
        );
        assert_eq!(
            file_numbers("(File 5: TensorRT for active inference)"),
            vec![5]
        );
        assert_eq!(
            file_numbers("Files 1-4 and 7, (Training knowledge)"),
            vec![1, 2, 3, 4, 7]
        );
        assert_eq!(file_numbers("File #12"), vec![12]);
        assert_eq!(
            file_numbers("4 files on 3D models, profile 2"),
            Vec::<u32>::new()
        );
        assert_eq!(file_numbers("a file 3D model"), Vec::<u32>::new());
        assert_eq!(
            file_numbers("Files 2, 6, 10 and files 3"),
            vec![2, 6, 10, 3]
        );
    }

    #[test]
    fn split_and_splits_like_str_split() {
        for s in [
            "",
            " and ",
            "a and b",
            "a and  and b",
            " and and x",
            "1 and 2 and ",
            "and",
            "a andb",
        ] {
            assert_eq!(
                split_and(s).collect::<Vec<_>>(),
                s.split(" and ").collect::<Vec<_>>(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn part_headers() {
        assert_eq!(
            part_header("PART 12: Create a.md (~500 lines)"),
            Some((12, "Create a.md (~500 lines)"))
        );
        assert_eq!(part_header("PART 3"), Some((3, "")));
        assert_eq!(part_header("PARTs 1-4"), None);
        assert_eq!(part_header("PARTICLE"), None);
        assert_eq!(bad_part_number("PART -1: X"), Some("-1"));
        assert_eq!(bad_part_number("PART 4294967296: X"), Some("4294967296"));
        assert_eq!(bad_part_number("PART 12: X"), None);
        assert_eq!(bad_part_number("PARTs 1-4"), None);
    }

    #[test]
    fn counted() {
        assert_eq!(
            counted_words("24 runners in 6 batches"),
            vec![(24, "runners".into()), (6, "batches".into())]
        );
        assert_eq!(
            counted_words("~16,800 lines across 24 files"),
            vec![(16800, "lines".into()), (24, "files".into())]
        );
        assert_eq!(expected_lines("(~700 lines)"), Some(700));
        assert_eq!(expected_lines("a100 lines"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(
            create_target("PART 1: Create gcp-gpu/00-x.md (Completed)"),
            Some("gcp-gpu/00-x.md")
        );
        assert_eq!(create_target("Create KNOWLEDGE-DROP-x-[TIME].md"), None);
        assert_eq!(
            ref_token("our NEW distributed-training/00-a.md (x)"),
            Some("distributed-training/00-a.md")
        );
        assert_eq!(
            ref_token("ALL performance/ files created"),
            Some("performance/")
        );
        assert_eq!(md_path("Save as `09-a.md`"), Some("09-a.md"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number_list("Files 1, 5, 16 - x"), vec![1, 5, 16]);
        assert_eq!(number_list("Files 1-4"), vec![1, 2, 3, 4]);
        assert_eq!(number_list("Files 3, (Vertex AI knowledge)"), vec![3]);
        assert_eq!(
            batch_parts("PARTs 1-4 (GPU Core)"),
            Some((vec![1, 2, 3, 4], "GPU Core".into()))
        );
        assert_eq!(batch_parts("PARTs soon"), None);
    }

    #[test]
    fn steps() {
        assert_eq!(
            step_header("Step 0: Check Existing Knowledge"),
            Some((Some(0), "Check Existing Knowledge"))
        );
        assert_eq!(
            step_header("**Step 1: Read Current INDEX.md"),
            Some((Some(1), "Read Current INDEX.md"))
        );
        assert_eq!(step_header("Stepping"), None);
    }
}

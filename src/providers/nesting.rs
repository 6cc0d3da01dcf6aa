//! Bounding how deeply a fetched page nests before it is converted.
//!
//! htmd walks the parsed tree recursively, and about 3,000 levels fill a
//! 2 MiB thread in a debug build: a page of a few thousand nested elements
//! aborted the whole process, every running PART with it. html5ever, its
//! parser, also checks scopes by walking its stack of open elements, so a
//! page nested tens of thousands deep takes quadratic time to parse.
//!
//! Two passes, both without recursion. `flatten_tags` is a linear scan of
//! the markup that drops the tags (not the text) of elements nested deeper
//! than `MAX_DEPTH`, which keeps the parser's stack short; it reads tags the
//! way the parser does only roughly, so `flatten_tree` then parses the page
//! and replaces every element still deeper than `MAX_DEPTH` by its text.
//! That second pass is the guarantee; the first keeps it cheap.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::{Handle, Node, NodeData, RcDom, SerializableHandle};

/// Deepest nesting kept; real pages nest a few dozen deep.
pub const MAX_DEPTH: usize = 256;

/// `html` nested at most `MAX_DEPTH` deep, deeper elements kept as text.
pub fn bound(html: &str) -> Cow<'_, str> {
    let flat = flatten_tags(html, MAX_DEPTH);
    match flatten_tree(&flat, MAX_DEPTH) {
        Some(s) => Cow::Owned(s),
        None => flat,
    }
}

/// Elements that have no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr", "frame", "basefont", "bgsound",
];

/// Elements whose end tag may be left out and that cannot contain
/// themselves: a page of unclosed `<p>` or `<li>` is long, not deep.
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
    "colgroup", "caption", "rb", "rt", "rtc", "rp",
];

/// Elements whose content is text up to their end tag, never markup.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// `html` without the tags of elements nested deeper than `max`, counting
/// nesting as open minus closed tags of elements that can nest. A linear
/// scan; borrowed when nothing is that deep.
pub fn flatten_tags(html: &str, max: usize) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut out: Option<String> = None;
    // Where the text not yet copied to `out` starts.
    let mut copied = 0;
    let mut depth = 0usize;
    // Inside <svg> or <math>, `/>` closes an element; in HTML it does not.
    let mut foreign = 0usize;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let lt = i + off;
        if b[lt..].starts_with(b"<!--") {
            i = memchr::memmem::find(&b[lt + 4..], b"-->").map_or(b.len(), |e| lt + 4 + e + 3);
            continue;
        }
        let Some(tag) = read_tag(b, lt) else {
            i = lt + 1;
            continue;
        };
        let name = tag.name.as_str();
        let mut drop_it = false;
        if tag.end {
            if name == "svg" || name == "math" {
                foreign = foreign.saturating_sub(1);
            }
            if nests(name) {
                depth = depth.saturating_sub(1);
                drop_it = depth >= max;
            }
        } else if nests(name) && !(tag.self_closing && foreign > 0) {
            drop_it = depth >= max;
            depth += 1;
            if name == "svg" || name == "math" {
                foreign += 1;
            }
        }
        if drop_it {
            let o = out.get_or_insert_with(|| String::with_capacity(html.len()));
            o.push_str(&html[copied..lt]);
            copied = tag.end_at;
        }
        i = tag.end_at;
        if !tag.end && RAW_TEXT.contains(&name) {
            // Its content is text: resume at its end tag.
            i = find_end_tag(b, i, name).unwrap_or(b.len());
        }
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut o) => {
            o.push_str(&html[copied..]);
            Cow::Owned(o)
        }
    }
}

fn nests(name: &str) -> bool {
    !VOID.contains(&name) && !OPTIONAL_END.contains(&name) && !RAW_TEXT.contains(&name)
}

/// A tag in the markup: its lower-cased name, whether it is an end tag or
/// written self-closing, and the offset just past its `>`.
struct Tag {
    name: String,
    end: bool,
    self_closing: bool,
    end_at: usize,
}

/// The tag at `lt` (a `<`), or `None` when it starts no element tag (text,
/// a doctype), in which case the scan moves on by one byte.
fn read_tag(b: &[u8], lt: usize) -> Option<Tag> {
    let mut j = lt + 1;
    let end = b.get(j) == Some(&b'/');
    if end {
        j += 1;
    }
    if !b.get(j)?.is_ascii_alphabetic() {
        return None;
    }
    let start = j;
    while j < b.len() && !matches!(b[j], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>') {
        j += 1;
    }
    let name = String::from_utf8_lossy(&b[start..j]).to_ascii_lowercase();
    // Attributes up to `>`, a quoted value may hold one.
    let mut quote: Option<u8> = None;
    let mut last = 0u8;
    while j < b.len() {
        let c = b[j];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => {
                return Some(Tag {
                    name,
                    end,
                    self_closing: last == b'/',
                    end_at: j + 1,
                });
            }
            None => {}
        }
        if !c.is_ascii_whitespace() {
            last = c;
        }
        j += 1;
    }
    None
}

/// The offset of `</name` (any case) from `from`.
fn find_end_tag(b: &[u8], from: usize, name: &str) -> Option<usize> {
    let n = name.as_bytes();
    let mut i = from;
    while let Some(off) = memchr::memmem::find(&b[i..], b"</") {
        let at = i + off;
        let rest = &b[at + 2..];
        if rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n) {
            return Some(at);
        }
        i = at + 2;
    }
    None
}

/// `html` parsed, with every element deeper than `max` replaced by its
/// text, serialized again; `None` when nothing is that deep. The tree is
/// html5ever's (the parser htmd uses) and is walked with an explicit stack;
/// rcdom serializes and drops it without recursion too.
pub fn flatten_tree(html: &str, max: usize) -> Option<String> {
    let dom = html5ever::parse_document(RcDom::default(), Default::default()).one(html);
    let mut flattened = false;
    let mut stack: Vec<(Handle, usize)> = vec![(dom.document.clone(), 0)];
    while let Some((node, depth)) = stack.pop() {
        if depth >= max && matches!(node.data, NodeData::Element { .. }) {
            let text = Node::new(NodeData::Text {
                contents: RefCell::new(text_of(&node).into()),
            });
            text.parent.set(Some(Rc::downgrade(&node)));
            *node.children.borrow_mut() = vec![text];
            flattened = true;
            continue;
        }
        for child in node.children.borrow().iter() {
            stack.push((child.clone(), depth + 1));
        }
    }
    if !flattened {
        return None;
    }
    let mut out = Vec::new();
    let opts = html5ever::serialize::SerializeOpts {
        traversal_scope: html5ever::serialize::TraversalScope::ChildrenOnly(None),
        ..Default::default()
    };
    html5ever::serialize::serialize(
        &mut out,
        &SerializableHandle::from(dom.document.clone()),
        opts,
    )
    .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The text under `node`, in document order.
fn text_of(node: &Handle) -> String {
    let mut out = String::new();
    let mut stack: Vec<Handle> = node.children.borrow().iter().rev().cloned().collect();
    while let Some(n) = stack.pop() {
        if let NodeData::Text { contents } = &n.data {
            out.push_str(&contents.borrow());
        }
        stack.extend(n.children.borrow().iter().rev().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}x{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn shallow_pages_are_left_alone() {
        let html = "<div><p>a<p>b</div><ul><li>c<li>d</ul><svg><path d='1'/></svg>";
        assert!(matches!(flatten_tags(html, 4), Cow::Borrowed(_)));
        assert_eq!(flatten_tree(html, MAX_DEPTH), None);
        assert!(matches!(bound(html), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_tags_are_dropped_and_their_text_kept() {
        let html = nested("<div class=\"a>b\">", "</div>", 10);
        let flat = flatten_tags(&html, 3);
        assert_eq!(flat.matches("<div").count(), 3, "{flat}");
        assert_eq!(flat.matches("</div>").count(), 3, "{flat}");
        assert!(flat.contains('x'));
        let tree = flatten_tree(&nested("<div>", "</div>", MAX_DEPTH + 5), MAX_DEPTH).unwrap();
        assert!(tree.matches("<div>").count() < MAX_DEPTH, "{tree:.300}");
        assert!(tree.contains('x'));
    }

    #[test]
    fn long_pages_of_unclosed_or_void_elements_are_not_deep() {
        for (open, close) in [("<p>", ""), ("<li>", ""), ("<br>", ""), ("<td>", "")] {
            let html = nested(open, close, 3 * MAX_DEPTH);
            assert!(
                matches!(flatten_tags(&html, MAX_DEPTH), Cow::Borrowed(_)),
                "{open}"
            );
        }
        let svg = format!("<svg>{}</svg><div>kept</div>", "<path d='m'/>".repeat(1000));
        assert!(matches!(flatten_tags(&svg, 8), Cow::Borrowed(_)));
        // In HTML `/>` closes nothing, so it still nests.
        let html = "<div/>".repeat(20);
        assert!(matches!(flatten_tags(&html, 8), Cow::Owned(_)));
    }

    #[test]
    fn comments_and_raw_text_hold_no_tags() {
        let html = format!(
            "<!-- {} --><script>{}</script><div>y</div>",
            "<div>".repeat(50),
            "'<div>'".repeat(50)
        );
        assert!(matches!(flatten_tags(&html, 8), Cow::Borrowed(_)));
    }

    #[test]
    fn tens_of_thousands_deep_parse_in_linear_time() {
        // Unbounded, html5ever takes seconds here (quadratic scope checks).
        let html = format!("<body>{}</body>", nested("<div>", "</div>", 50_000));
        let t = std::time::Instant::now();
        let out = bound(&html);
        assert!(out.contains('x'));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }
}

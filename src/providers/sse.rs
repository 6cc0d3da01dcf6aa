//! Server-sent events (the `text/event-stream` format the OpenAI and
//! Anthropic writers stream in), read incrementally from the chunks of a
//! body as they arrive. Only what those APIs use is kept: `event:` and
//! `data:` fields, comments ignored, `id:` and `retry:` dropped (a request
//! is retried whole, never resumed from an event id).
//!
//! The format fits in a few dozen lines, so it is parsed here rather than
//! through a crate built around a `Stream` of bytes, which the shared HTTP
//! client (reading `chunk()` by `chunk()` under its idle timeout and cap)
//! does not have.

/// One event: its type (`message` when the server names none) and its data
/// lines joined with `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// An incremental parser: feed it bytes, take the events completed so far.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of the line being read (a chunk may end inside a line, or
    /// inside a UTF-8 character).
    line: Vec<u8>,
    /// The previous chunk ended on `\r`: a `\n` starting this one belongs to it.
    after_cr: bool,
    event: String,
    data: Option<String>,
    done: Vec<Event>,
}

impl Parser {
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line();
                }
                _ => self.line.push(b),
            }
        }
    }

    /// The events completed since the last call.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.done)
    }

    /// The stream ended: an event not closed by a blank line is dispatched
    /// all the same (some servers end on `data: [DONE]` without one).
    pub fn finish(&mut self) -> Vec<Event> {
        if !self.line.is_empty() {
            self.end_line();
        }
        self.dispatch();
        self.take()
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let event = std::mem::take(&mut self.event);
        if let Some(data) = self.data.take() {
            self.done.push(Event {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_and_any_line_ending() {
        let text = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: ping\n\ndata: x\ndata: y\n\nevent: e\rdata:z\r\rdata: [DONE]";
        // Every split point gives the same events, a multi-byte character cut too.
        let text = text.replace("x", "é");
        for cut in 0..text.len() {
            let mut p = Parser::default();
            p.feed(&text.as_bytes()[..cut]);
            let mut got = p.take();
            p.feed(&text.as_bytes()[cut..]);
            got.extend(p.take());
            got.extend(p.finish());
            let names: Vec<(&str, &str)> = got
                .iter()
                .map(|e| (e.event.as_str(), e.data.as_str()))
                .collect();
            assert_eq!(
                names,
                [
                    ("message_start", "{\"a\":1}"),
                    ("message", "é\ny"),
                    ("e", "z"),
                    ("message", "[DONE]"),
                ],
                "cut at {cut}"
            );
        }
    }
}

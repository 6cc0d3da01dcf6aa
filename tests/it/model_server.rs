//! A language-model server on loopback that streams the way hosted APIs do:
//! server-sent events in small chunks with pauses between them, in the
//! OpenAI chat-completions or the Anthropic Messages wire format, each reply
//! capped at a number of output tokens (and then marked `finish_reason:
//! "length"` / `stop_reason: "max_tokens"`), a stream that can stall
//! mid-answer, and a SearXNG-style search and HTML pages so that a run has
//! URLs its research really retrieved.
//!
//! A plain tokio `TcpListener`: wiremock answers with whole bodies, and what
//! is tested here is how a client reads a body that arrives a few bytes at
//! a time, or stops arriving.
//!
//! The "model" is a function of the request: the whole answer it would
//! write for the prompt (`Model`), of which each reply sends the part after
//! what the request says was already written (a continuation sends it
//! back), up to the token cap. Tokens are counted as characters / 4.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
}

impl Wire {
    pub fn kind(self) -> &'static str {
        match self {
            Wire::OpenAi => "openai",
            Wire::Anthropic => "anthropic",
        }
    }
}

/// The whole answer the model writes for a prompt (the first user message).
pub type Model = Arc<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Clone)]
pub struct Options {
    /// Output tokens one reply may hold (chars / 4).
    pub cap_tokens: usize,
    /// Bytes written at a time.
    pub chunk: usize,
    /// Pause after each chunk.
    pub pause: Duration,
    /// The first this many streamed replies stop sending halfway, for
    /// `stall_for`, then the connection is dropped.
    pub stalls: usize,
    pub stall_for: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cap_tokens: 2_000,
            chunk: 61,
            pause: Duration::from_millis(1),
            stalls: 0,
            stall_for: Duration::from_secs(5),
        }
    }
}

/// One model request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    /// The first user message's text (a string, or the text blocks of an
    /// Anthropic content list joined).
    pub fn prompt(&self) -> String {
        content_text(&self.body["messages"][0]["content"])
    }

    /// What the request says was written so far (a continuation).
    pub fn so_far(&self) -> Option<String> {
        let m = &self.body["messages"][1];
        (m["role"] == "assistant").then(|| content_text(&m["content"]))
    }
}

fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<String>(),
        _ => String::new(),
    }
}

pub struct ModelServer {
    pub uri: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Most model requests in flight at once.
    pub max_in_flight: Arc<AtomicUsize>,
    /// Streamed replies cut at the token cap.
    pub capped: Arc<AtomicUsize>,
}

impl ModelServer {
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

struct Shared {
    wire: Wire,
    opts: Options,
    model: Model,
    uri: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: AtomicUsize,
    max_in_flight: Arc<AtomicUsize>,
    capped: Arc<AtomicUsize>,
    stalls_left: AtomicUsize,
    /// Anthropic: prompt prefixes marked with `cache_control` seen before.
    cached: Mutex<std::collections::HashSet<String>>,
}

pub async fn start(wire: Wire, opts: Options, model: Model) -> ModelServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let capped = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        wire,
        stalls_left: AtomicUsize::new(opts.stalls),
        opts,
        model,
        uri: uri.clone(),
        seen: Arc::clone(&seen),
        in_flight: AtomicUsize::new(0),
        max_in_flight: Arc::clone(&max_in_flight),
        capped: Arc::clone(&capped),
        cached: Mutex::default(),
    });
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let _ = serve(sock, &shared).await;
            });
        }
    });
    ModelServer {
        uri,
        seen,
        max_in_flight,
        capped,
    }
}

/// One request per connection (answered with `connection: close`).
async fn serve(mut sock: TcpStream, sh: &Shared) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = &buf[head_end..(head_end + len).min(buf.len())];
    let target = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("").to_string();
    if path == "/search" {
        return search(&mut sock, &sh.uri, &target).await;
    }
    if let Some(name) = path.strip_prefix("/page/") {
        let html = format!(
            "<html><head><title>{name}</title></head><body><main><h1>{name}</h1>\
             <p>PAGE-{name}: what this page says about {name}.</p></main></body></html>"
        );
        return respond(&mut sock, 200, "text/html; charset=utf-8", html.as_bytes()).await;
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let seen = Seen { headers, body };
    sh.seen.lock().unwrap().push(seen.clone());
    let now = sh.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    sh.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let mut open = InFlight(Some(&sh.in_flight));
    answer(&mut sock, sh, &seen, &mut open).await
}

/// A request counted in flight until its answer's last bytes are about to
/// go out: the client may start its next request as soon as it has read
/// them, before this task runs again, and counting until after the write
/// saw one request too many now and then on a loaded machine.
struct InFlight<'a>(Option<&'a AtomicUsize>);

impl InFlight<'_> {
    fn done(&mut self) {
        if let Some(n) = self.0.take() {
            n.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

async fn respond(
    sock: &mut TcpStream,
    status: u16,
    ctype: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body).await?;
    sock.shutdown().await
}

/// Three results for the query's first word, pointing at this server's pages.
async fn search(sock: &mut TcpStream, uri: &str, target: &str) -> std::io::Result<()> {
    let q = target
        .split_once("q=")
        .map(|(_, q)| q.split('&').next().unwrap_or(""))
        .unwrap_or("");
    let word: String = q
        .split(['+', '%', ' '])
        .next()
        .unwrap_or("q")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let results: Vec<Value> = (1..=3)
        .map(|i| {
            json!({"url": format!("{uri}/page/{word}-{i}"), "title": format!("{word} page {i}"),
                   "content": format!("snippet of {word} {i}")})
        })
        .collect();
    let body = json!({"query": q, "results": results}).to_string();
    respond(sock, 200, "application/json", body.as_bytes()).await
}

/// The reply to a model request: the whole answer from where the request
/// says it stopped, cut at the token cap.
async fn answer(
    sock: &mut TcpStream,
    sh: &Shared,
    seen: &Seen,
    open: &mut InFlight<'_>,
) -> std::io::Result<()> {
    let full = (sh.model)(&seen.prompt());
    let from = match seen.so_far() {
        Some(so_far) => {
            assert!(
                full.starts_with(&so_far),
                "a continuation sends back a prefix of the answer"
            );
            so_far.len()
        }
        None => 0,
    };
    let rest = &full[from..];
    let cap = sh.opts.cap_tokens * 4;
    let (text, cut) = if rest.len() > cap {
        let mut at = cap;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        (&rest[..at], true)
    } else {
        (rest, false)
    };
    let output = (text.len() / 4).max(1) as u64;
    let usage = usage(sh, seen, output);
    if cut {
        sh.capped.fetch_add(1, Ordering::SeqCst);
    }
    if seen.body["stream"] != true {
        let body = whole_body(sh.wire, text, cut, &usage);
        open.done();
        return respond(sock, 200, "application/json", body.to_string().as_bytes()).await;
    }
    let events = events(sh.wire, text, cut, &usage);
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    sock.write_all(head.as_bytes()).await?;
    let stall = sh
        .stalls_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let bytes = events.as_bytes();
    let half = bytes.len() / 2;
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + sh.opts.chunk).min(bytes.len());
        if end == bytes.len() && !stall {
            open.done();
        }
        sock.write_all(&bytes[at..end]).await?;
        sock.flush().await?;
        at = end;
        if stall && at >= half {
            tokio::time::sleep(sh.opts.stall_for).await;
            return Ok(());
        }
        tokio::time::sleep(sh.opts.pause).await;
    }
    sock.shutdown().await
}

/// Tokens of a reply, counted as the API counts them.
struct Usage {
    /// Prompt tokens not read from or written to the cache (Anthropic's
    /// `input_tokens`); every prompt token for OpenAI.
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

/// Anthropic's accounting of a prompt whose first block is marked with
/// `cache_control`: written to the cache the first time it is seen, read
/// from it after; `input_tokens` counts only the rest.
fn usage(sh: &Shared, seen: &Seen, output: u64) -> Usage {
    let all = (seen.prompt().len() / 4) as u64;
    let block = &seen.body["messages"][0]["content"][0];
    let prefix = match (sh.wire, block["cache_control"]["type"].as_str()) {
        (Wire::Anthropic, Some("ephemeral")) => block["text"].as_str().unwrap_or(""),
        _ => "",
    };
    let mut u = Usage {
        input: all,
        output,
        cache_read: 0,
        cache_write: 0,
    };
    if !prefix.is_empty() {
        let p = (prefix.len() / 4) as u64;
        u.input = all - p;
        match sh.cached.lock().unwrap().insert(prefix.to_string()) {
            true => u.cache_write = p,
            false => u.cache_read = p,
        }
    }
    u
}

fn whole_body(wire: Wire, text: &str, cut: bool, u: &Usage) -> Value {
    let (input, output) = (u.input, u.output);
    match wire {
        Wire::OpenAi => json!({"id": "c", "model": "mock-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": if cut { "length" } else { "stop" }}],
            "usage": {"prompt_tokens": input, "completion_tokens": output}}),
        Wire::Anthropic => json!({"id": "m", "type": "message", "model": "mock-model",
            "content": [{"type": "text", "text": text}],
            "stop_reason": if cut { "max_tokens" } else { "end_turn" },
            "usage": {"input_tokens": input, "output_tokens": output,
                      "cache_read_input_tokens": u.cache_read, "cache_creation_input_tokens": u.cache_write}}),
    }
}

/// The stream for `text`: one delta per line, as the API's events.
fn events(wire: Wire, text: &str, cut: bool, u: &Usage) -> String {
    let (input, output) = (u.input, u.output);
    let mut s = String::new();
    let deltas: Vec<&str> = text.split_inclusive('\n').collect();
    match wire {
        Wire::OpenAi => {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "c", "object": "chat.completion.chunk", "model": "mock-model",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            s.push_str(&format!(
                "data: {}\n\n",
                chunk(json!({"role": "assistant", "content": ""}), Value::Null)
            ));
            for d in deltas {
                s.push_str(&format!(
                    "data: {}\n\n",
                    chunk(json!({"content": d}), Value::Null)
                ));
            }
            let finish = if cut { "length" } else { "stop" };
            s.push_str(&format!("data: {}\n\n", chunk(json!({}), json!(finish))));
            s.push_str(&format!(
                "data: {}\n\n",
                json!({"id": "c", "object": "chat.completion.chunk", "model": "mock-model", "choices": [],
                       "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}})
            ));
            s.push_str("data: [DONE]\n\n");
        }
        Wire::Anthropic => {
            let ev = |s: &mut String, name: &str, v: Value| {
                s.push_str(&format!("event: {name}\ndata: {v}\n\n"));
            };
            ev(
                &mut s,
                "message_start",
                json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
                       "model": "mock-model", "content": [], "stop_reason": null,
                       "usage": {"input_tokens": input, "output_tokens": 1,
                                 "cache_read_input_tokens": u.cache_read,
                                 "cache_creation_input_tokens": u.cache_write}}}),
            );
            ev(
                &mut s,
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            );
            ev(&mut s, "ping", json!({"type": "ping"}));
            for d in deltas {
                ev(
                    &mut s,
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}}),
                );
            }
            ev(
                &mut s,
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            );
            let stop = if cut { "max_tokens" } else { "end_turn" };
            ev(
                &mut s,
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                       "usage": {"output_tokens": output}}),
            );
            ev(&mut s, "message_stop", json!({"type": "message_stop"}));
        }
    }
    s
}

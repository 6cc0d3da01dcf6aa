//! Writer for the Anthropic Messages API (`/v1/messages`).
//!
//! Answers stream as server-sent events (`writer.stream`): `message_start`
//! carries the prompt's usage, `content_block_delta` the text,
//! `message_delta` the stop reason and the output tokens; they are put back
//! together into the answer a non-streaming request gets, so one parser
//! reads both. `stop_reason: "max_tokens"` marks an answer cut at the limit.
//! The prompt prefix that a PART's requests share is marked for the
//! prompt cache (`cache_control`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{api_key, Http, Request, Streamed};
use super::{prompt, BoxFuture, Finish, ProviderError, Usage, WriteRequest, Writer, Written};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_KEY_ENV: &str = "ANTHROPIC_API_KEY";
pub const API_VERSION: &str = "2023-06-01";
/// The Messages API requires `max_tokens`.
const DEFAULT_MAX_TOKENS: u32 = 8192;

pub struct Anthropic {
    http: Arc<Http>,
    url: String,
    model: String,
    key: String,
    max_tokens: u32,
    temperature: Option<f32>,
    timeout: Duration,
    idle: Duration,
    stream: bool,
    headers: Vec<(String, String)>,
    extra_body: BTreeMap<String, Value>,
}

impl Anthropic {
    pub fn new(cfg: &crate::config::Writer, http: Arc<Http>) -> Result<Anthropic, ProviderError> {
        let model = cfg.model.clone().ok_or_else(|| {
            ProviderError::Config("writer.model is required for writer kind `anthropic`".into())
        })?;
        let var = cfg.api_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
        let key = api_key(var, "writer.api_key_env")?;
        let base = super::base_url(cfg.base_url.as_deref(), DEFAULT_BASE_URL);
        let url = if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        };
        Ok(Anthropic {
            http,
            url,
            model,
            key,
            max_tokens: cfg.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            temperature: cfg.temperature,
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
            idle: Duration::from_secs(cfg.idle_timeout_s.max(1)),
            stream: cfg.stream,
            headers: super::extra_headers(&cfg.headers),
            extra_body: cfg.extra_body.clone(),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Anthropic {
        self.timeout = timeout;
        self
    }

    /// A shorter idle timeout than whole seconds, for tests.
    pub fn with_idle_timeout(mut self, idle: Duration) -> Anthropic {
        self.idle = idle;
        self
    }

    fn body(&self, req: &WriteRequest) -> Value {
        // The shared prefix as its own block, marked for the prompt cache:
        // the section requests and continuations of a PART read it from
        // there. A prefix under the model's minimum is simply not cached.
        let (prefix, rest) = req.split_prompt();
        let content = if prefix.is_empty() {
            json!(req.prompt)
        } else {
            let mut blocks = vec![
                json!({"type": "text", "text": prefix, "cache_control": {"type": "ephemeral"}}),
            ];
            if !rest.is_empty() {
                blocks.push(json!({"type": "text", "text": rest}));
            }
            json!(blocks)
        };
        let mut messages = vec![json!({"role": "user", "content": content})];
        if let Some(so_far) = &req.so_far {
            messages.push(json!({"role": "assistant", "content": so_far.trim_end()}));
            messages.push(json!({"role": "user", "content": prompt::CONTINUE}));
        }
        let mut body = json!({
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": messages,
        });
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        if self.stream {
            body["stream"] = json!(true);
        }
        for (k, v) in &self.extra_body {
            body[k] = v.clone();
        }
        body
    }

    async fn call(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        let mut r = Request::post_json("anthropic", &self.url, &self.body(req), self.timeout)
            .secret_header("x-api-key", &self.key, &self.key)
            .header("anthropic-version", API_VERSION);
        for (k, v) in &self.headers {
            r = r.header(k, v);
        }
        let resp = match self.stream {
            true => {
                self.http
                    .send_stream(&r.cache_tag("anthropic-stream"), self.idle, &assemble)
                    .await?
            }
            false => self.http.send(&r).await?,
        };
        let v: Value = resp.json("anthropic")?;
        parse(&v, &self.model)
    }
}

/// The events of a streamed message put back together as the answer a
/// non-streaming request gets.
fn assemble(s: Streamed) -> Result<String, ProviderError> {
    let events = match s {
        Streamed::Body(b) => return Ok(b),
        Streamed::Events(e) => e,
    };
    let mut model = Value::Null;
    let mut usage = json!({});
    let mut text = String::new();
    let mut stop: Option<String> = None;
    let mut ended = false;
    for e in events {
        if e.event == "ping" {
            continue;
        }
        let v: Value = serde_json::from_str(&e.data).map_err(|err| ProviderError::BadResponse {
            what: "anthropic".into(),
            message: format!("an event is not JSON ({err}): {:.200}", e.data),
        })?;
        match v["type"].as_str().unwrap_or(e.event.as_str()) {
            "message_start" => {
                model = v["message"]["model"].clone();
                if let Some(u) = v["message"]["usage"].as_object() {
                    for (k, n) in u {
                        usage[k] = n.clone();
                    }
                }
            }
            "content_block_delta" => {
                if let Some(t) = v["delta"]["text"].as_str() {
                    text.push_str(t);
                }
            }
            "message_delta" => {
                if let Some(s) = v["delta"]["stop_reason"].as_str() {
                    stop = Some(s.to_string());
                }
                // Counts here are cumulative: they replace the start's.
                if let Some(u) = v["usage"].as_object() {
                    for (k, n) in u.iter().filter(|(_, n)| !n.is_null()) {
                        usage[k] = n.clone();
                    }
                }
            }
            "message_stop" => ended = true,
            "error" => return Err(super::openai::stream_error("anthropic", &v["error"])),
            _ => {}
        }
    }
    if !ended && stop.is_none() {
        return Err(ProviderError::Network {
            what: "anthropic".into(),
            message: "the stream ended before the answer did".into(),
        });
    }
    Ok(json!({
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "usage": usage,
    })
    .to_string())
}

fn parse(v: &Value, model: &str) -> Result<Written, ProviderError> {
    let bad = |m: &str| ProviderError::BadResponse {
        what: "anthropic".into(),
        message: m.to_string(),
    };
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| bad("no `content` array in the answer"))?;
    let text: String = blocks
        .iter()
        .filter(|b| b["type"].as_str().unwrap_or("text") == "text")
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("");
    if text.trim().is_empty() {
        return Err(bad("the answer has no text content"));
    }
    let u = &v["usage"];
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    // `input_tokens` counts only what the cache did not hold.
    let (read, write) = (
        n("cache_read_input_tokens"),
        n("cache_creation_input_tokens"),
    );
    let finish = match v["stop_reason"].as_str() {
        Some("max_tokens") | Some("model_context_window_exceeded") => Finish::Length,
        _ => Finish::Stop,
    };
    Ok(Written {
        text,
        usage: Usage {
            input_tokens: n("input_tokens") + read + write,
            output_tokens: n("output_tokens"),
            cache_read_tokens: read,
            cache_write_tokens: write,
        },
        model: v["model"].as_str().unwrap_or(model).to_string(),
        finish,
    })
}

impl Writer for Anthropic {
    fn name(&self) -> &str {
        "anthropic"
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn write<'a>(&'a self, req: &'a WriteRequest) -> BoxFuture<'a, Result<Written, ProviderError>> {
        Box::pin(self.call(req))
    }
    fn output_limit(&self) -> Option<u32> {
        Some(self.max_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sse::Event;

    #[test]
    fn joins_text_blocks_and_reads_usage() {
        let v = json!({"content": [{"type": "text", "text": "# A"}, {"type": "tool_use"}, {"type": "text", "text": "\nb"}],
                       "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20},
                       "stop_reason": "max_tokens"});
        let w = parse(&v, "claude").unwrap();
        assert_eq!(w.text, "# A\nb");
        assert_eq!(
            w.usage,
            Usage {
                input_tokens: 125,
                output_tokens: 7,
                cache_read_tokens: 100,
                cache_write_tokens: 20,
            }
        );
        assert_eq!(w.model, "claude");
        assert_eq!(w.finish, Finish::Length);
    }

    fn ev(event: &str, data: Value) -> Event {
        Event {
            event: event.into(),
            data: data.to_string(),
        }
    }

    #[test]
    fn a_stream_assembles_into_an_answer() {
        let events = vec![
            ev(
                "message_start",
                json!({"type": "message_start", "message": {"model": "c2", "usage": {"input_tokens": 9, "cache_read_input_tokens": 4, "output_tokens": 1}}}),
            ),
            ev("ping", json!({"type": "ping"})),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "# A"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "\nb"}}),
            ),
            ev(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 6}}),
            ),
            ev("message_stop", json!({"type": "message_stop"})),
        ];
        let body = assemble(Streamed::Events(events)).unwrap();
        let w = parse(&serde_json::from_str(&body).unwrap(), "cfg").unwrap();
        assert_eq!((w.text.as_str(), w.finish), ("# A\nb", Finish::Stop));
        assert_eq!(w.model, "c2");
        assert_eq!(
            (
                w.usage.input_tokens,
                w.usage.output_tokens,
                w.usage.cache_read_tokens
            ),
            (13, 6, 4)
        );
        let over = vec![ev(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        )];
        let e = assemble(Streamed::Events(over)).unwrap_err();
        assert!(e.retryable() && e.to_string().contains("Overloaded"), "{e}");
    }

    #[test]
    fn the_shared_prefix_is_marked_for_the_cache() {
        std::env::set_var("EXPAND_UNIT_ANTHROPIC_KEY", "k");
        let cfg = crate::config::Writer {
            kind: "anthropic".into(),
            model: Some("c".into()),
            api_key_env: Some("EXPAND_UNIT_ANTHROPIC_KEY".into()),
            ..crate::config::Writer::default()
        };
        let http = Arc::new(Http::new(None, Default::default()).unwrap());
        let a = Anthropic::new(&cfg, http).unwrap();
        let mut req = crate::providers::tests::request("SHARED|own");
        req.shared_prefix = "SHARED|".len();
        req.so_far = Some("# T\n\nhalf ".into());
        let b = a.body(&req);
        let blocks = &b["messages"][0]["content"];
        assert_eq!(blocks[0]["text"], "SHARED|");
        assert_eq!(blocks[0]["cache_control"]["type"], "ephemeral");
        assert_eq!(blocks[1]["text"], "own");
        assert_eq!(b["messages"][1]["content"], "# T\n\nhalf");
        assert_eq!(b["messages"][2]["content"], prompt::CONTINUE);
        assert_eq!(b["stream"], true);
    }
}

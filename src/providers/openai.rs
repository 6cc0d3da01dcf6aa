//! Writer for any OpenAI-compatible `/v1/chat/completions` endpoint: OpenAI,
//! vLLM, llama.cpp server, Ollama, LM Studio, OpenRouter.
//!
//! Answers stream as server-sent events (`writer.stream`) with the usage in
//! the last event (`stream_options.include_usage`); the events are put back
//! together into the answer a non-streaming request gets, so one parser
//! reads both (and a server that ignores `stream` still works).
//! `finish_reason: "length"` marks an answer cut at the token limit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{api_key, Http, Request, Streamed};
use super::{prompt, BoxFuture, Finish, ProviderError, Usage, WriteRequest, Writer, Written};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAi {
    http: Arc<Http>,
    url: String,
    model: String,
    /// `None` for local servers that need no key.
    key: Option<String>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    timeout: Duration,
    idle: Duration,
    stream: bool,
    /// Send the limit as `max_completion_tokens` (newer OpenAI models
    /// refuse `max_tokens`). Set once a server said so, when `auto`.
    completion_tokens: AtomicBool,
    token_param_auto: bool,
    headers: Vec<(String, String)>,
    extra_body: BTreeMap<String, Value>,
    tokens: super::tokens::Counter,
}

impl OpenAi {
    pub fn new(cfg: &crate::config::Writer, http: Arc<Http>) -> Result<OpenAi, ProviderError> {
        let model = cfg.model.clone().ok_or_else(|| {
            ProviderError::Config("writer.model is required for writer kind `openai`".into())
        })?;
        let key = match &cfg.api_key_env {
            Some(var) => Some(api_key(var, "writer.api_key_env")?),
            None => None,
        };
        let base = super::base_url(cfg.base_url.as_deref(), DEFAULT_BASE_URL);
        // OpenAI itself takes `max_completion_tokens` for every chat model
        // (and the newer ones take nothing else); most compatible servers
        // know only `max_tokens`.
        let completion_tokens = match cfg.token_param.as_str() {
            "max_completion_tokens" => true,
            "max_tokens" => false,
            _ => base.starts_with(DEFAULT_BASE_URL),
        };
        Ok(OpenAi {
            http,
            url: format!("{base}/chat/completions"),
            tokens: super::tokens::Counter::for_model(&model),
            model,
            key,
            max_tokens: cfg.max_tokens,
            temperature: cfg.temperature,
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
            idle: Duration::from_secs(cfg.idle_timeout_s.max(1)),
            stream: cfg.stream,
            completion_tokens: AtomicBool::new(completion_tokens),
            token_param_auto: cfg.token_param == "auto",
            headers: super::extra_headers(&cfg.headers),
            extra_body: cfg.extra_body.clone(),
        })
    }

    /// Shorter timeouts than whole seconds, for tests.
    pub fn with_timeout(mut self, timeout: Duration) -> OpenAi {
        self.timeout = timeout;
        self
    }

    /// A shorter idle timeout than whole seconds, for tests.
    pub fn with_idle_timeout(mut self, idle: Duration) -> OpenAi {
        self.idle = idle;
        self
    }

    fn body(&self, req: &WriteRequest) -> Value {
        let mut messages = vec![json!({"role": "user", "content": req.prompt})];
        if let Some(so_far) = &req.so_far {
            messages.push(json!({"role": "assistant", "content": so_far}));
            messages.push(json!({"role": "user", "content": prompt::CONTINUE}));
        }
        let mut body = json!({"model": self.model, "messages": messages});
        if let Some(n) = self.max_tokens {
            let param = match self.completion_tokens.load(Ordering::Relaxed) {
                true => "max_completion_tokens",
                false => "max_tokens",
            };
            body[param] = json!(n);
        }
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        if self.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        for (k, v) in &self.extra_body {
            body[k] = v.clone();
        }
        body
    }

    async fn call(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        match self.call_once(req).await {
            Err(e)
                if self.token_param_auto
                    && self.max_tokens.is_some()
                    && wants_completion_tokens(&e) =>
            {
                if self.completion_tokens.swap(true, Ordering::Relaxed) {
                    return Err(e);
                }
                tracing::info!(
                    "openai: the server wants `max_completion_tokens`; sending that from now on"
                );
                self.call_once(req).await
            }
            other => other,
        }
    }

    async fn call_once(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        let mut r = Request::post_json("openai", &self.url, &self.body(req), self.timeout);
        for (k, v) in &self.headers {
            r = r.header(k, v);
        }
        if let Some(k) = &self.key {
            r = r.secret_header("authorization", &format!("Bearer {k}"), k);
        }
        let resp = match self.stream {
            true => {
                self.http
                    .send_stream(&r.cache_tag("openai-stream"), self.idle, &assemble)
                    .await?
            }
            false => self.http.send(&r).await?,
        };
        let v: Value = resp.json("openai")?;
        parse(&v, &self.model)
    }
}

/// A 400 that says the model takes `max_completion_tokens` instead.
fn wants_completion_tokens(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Http { status: 400, message, .. }
        if message.contains("max_tokens") && message.contains("max_completion_tokens"))
}

/// The chunks of a streamed chat completion put back together as the
/// answer a non-streaming request gets.
fn assemble(s: Streamed) -> Result<String, ProviderError> {
    let events = match s {
        Streamed::Body(b) => return Ok(b),
        Streamed::Events(e) => e,
    };
    let bad = |m: String| ProviderError::BadResponse {
        what: "openai".into(),
        message: m,
    };
    let mut text = String::new();
    let mut finish: Option<String> = None;
    let mut usage = Value::Null;
    let mut model = Value::Null;
    let mut done = false;
    for e in events {
        let data = e.data.trim();
        if data == "[DONE]" {
            done = true;
            break;
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|err| bad(format!("an event is not JSON ({err}): {data:.200}")))?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error("openai", err));
        }
        if model.is_null() {
            model = v["model"].clone();
        }
        if v["usage"].is_object() {
            usage = v["usage"].clone();
        }
        let choice = &v["choices"][0];
        if let Some(t) = choice["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
    }
    if !done && finish.is_none() {
        // Cut off by the network or the server: not an answer to keep.
        return Err(ProviderError::Network {
            what: "openai".into(),
            message: "the stream ended before the answer did".into(),
        });
    }
    Ok(json!({
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish}],
        "usage": usage,
    })
    .to_string())
}

/// An error sent inside a stream that had started well: overloaded or
/// server errors are retried like their HTTP statuses.
pub(crate) fn stream_error(what: &str, err: &Value) -> ProviderError {
    let kind = err["type"]
        .as_str()
        .or_else(|| err["code"].as_str())
        .unwrap_or("");
    let message = err["message"].as_str().unwrap_or(kind).to_string();
    let status = match kind {
        "overloaded_error" => 529,
        "api_error" | "server_error" | "internal_error" => 500,
        "rate_limit_error" | "rate_limit_exceeded" => 429,
        _ => err["code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(400),
    };
    ProviderError::Http {
        what: what.into(),
        status,
        message: format!("error in the stream: {message}"),
        retry_after: None,
    }
}

fn parse(v: &Value, model: &str) -> Result<Written, ProviderError> {
    let bad = |m: &str| ProviderError::BadResponse {
        what: "openai".into(),
        message: m.to_string(),
    };
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| bad("no `choices[0].message.content` in the answer"))?;
    if text.trim().is_empty() {
        return Err(bad("the answer's content is empty"));
    }
    let u = &v["usage"];
    let usage = Usage {
        input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
        // Part of `prompt_tokens` (OpenAI, and servers that copy its usage).
        cache_read_tokens: u["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        cache_write_tokens: 0,
    };
    let finish = match v["choices"][0]["finish_reason"].as_str() {
        Some("length") => Finish::Length,
        _ => Finish::Stop,
    };
    Ok(Written {
        text: text.to_string(),
        usage,
        model: v["model"].as_str().unwrap_or(model).to_string(),
        finish,
    })
}

impl Writer for OpenAi {
    fn name(&self) -> &str {
        "openai"
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn write<'a>(&'a self, req: &'a WriteRequest) -> BoxFuture<'a, Result<Written, ProviderError>> {
        Box::pin(self.call(req))
    }
    fn output_limit(&self) -> Option<u32> {
        // The server's own default is unknown; 4096 is the common one.
        Some(self.max_tokens.unwrap_or(4096))
    }
    fn count_tokens(&self, text: &str) -> u64 {
        self.tokens.count(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sse::Event;

    #[test]
    fn parses_content_usage_and_finish() {
        let v = json!({"model": "m1", "choices": [{"message": {"role": "assistant", "content": "# Hi"}, "finish_reason": "length"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 8}}});
        let w = parse(&v, "cfg").unwrap();
        assert_eq!(w.text, "# Hi");
        assert_eq!(
            w.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 3,
                cache_read_tokens: 8,
                cache_write_tokens: 0,
            }
        );
        assert_eq!(w.model, "m1");
        assert_eq!(w.finish, Finish::Length);
        assert!(parse(&json!({"choices": []}), "m").is_err());
    }

    fn ev(data: &str) -> Event {
        Event {
            event: "message".into(),
            data: data.into(),
        }
    }

    #[test]
    fn a_stream_assembles_into_an_answer() {
        let events = vec![
            ev(
                r##"{"model":"m2","choices":[{"index":0,"delta":{"role":"assistant","content":"# A"},"finish_reason":null}]}"##,
            ),
            ev(
                r##"{"model":"m2","choices":[{"index":0,"delta":{"content":"\nb"},"finish_reason":"stop"}]}"##,
            ),
            ev(
                r##"{"model":"m2","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"##,
            ),
            ev("[DONE]"),
        ];
        let body = assemble(Streamed::Events(events)).unwrap();
        let w = parse(&serde_json::from_str(&body).unwrap(), "cfg").unwrap();
        assert_eq!((w.text.as_str(), w.finish), ("# A\nb", Finish::Stop));
        assert_eq!(w.usage, Usage::new(5, 2));
        // Cut short: neither a finish reason nor [DONE].
        let cut = vec![ev(
            r##"{"choices":[{"index":0,"delta":{"content":"# A"},"finish_reason":null}]}"##,
        )];
        let e = assemble(Streamed::Events(cut)).unwrap_err();
        assert!(e.retryable(), "{e}");
        let err = vec![ev(
            r##"{"error":{"message":"boom","type":"server_error"}}"##,
        )];
        let e = assemble(Streamed::Events(err)).unwrap_err();
        assert!(e.retryable() && e.to_string().contains("boom"), "{e}");
    }
}

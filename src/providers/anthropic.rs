//! Writer for the Anthropic Messages API (`/v1/messages`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{api_key, Http, Request};
use super::{BoxFuture, ProviderError, Usage, WriteRequest, Writer, Written};

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
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Anthropic {
        self.timeout = timeout;
        self
    }

    async fn call(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        let mut body = json!({
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": req.prompt}],
        });
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        let r = Request::post_json("anthropic", &self.url, &body, self.timeout)
            .secret_header("x-api-key", &self.key, &self.key)
            .header("anthropic-version", API_VERSION);
        let resp = self.http.send(&r).await?;
        let v: Value = resp.json("anthropic")?;
        parse(&v, &self.model)
    }
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
    Ok(Written {
        text,
        usage: Usage {
            input_tokens: v["usage"]["input_tokens"].as_u64().unwrap_or(0),
            output_tokens: v["usage"]["output_tokens"].as_u64().unwrap_or(0),
        },
        model: v["model"].as_str().unwrap_or(model).to_string(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_text_blocks_and_reads_usage() {
        let v = json!({"content": [{"type": "text", "text": "# A"}, {"type": "tool_use"}, {"type": "text", "text": "\nb"}],
                       "usage": {"input_tokens": 5, "output_tokens": 7}});
        let w = parse(&v, "claude").unwrap();
        assert_eq!(w.text, "# A\nb");
        assert_eq!(
            w.usage,
            Usage {
                input_tokens: 5,
                output_tokens: 7
            }
        );
        assert_eq!(w.model, "claude");
    }
}

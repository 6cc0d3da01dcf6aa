//! Writer for any OpenAI-compatible `/v1/chat/completions` endpoint: OpenAI,
//! vLLM, llama.cpp server, Ollama, LM Studio, OpenRouter.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{api_key, Http, Request};
use super::{BoxFuture, ProviderError, Usage, WriteRequest, Writer, Written};

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
        Ok(OpenAi {
            http,
            url: format!("{base}/chat/completions"),
            model,
            key,
            max_tokens: cfg.max_tokens,
            temperature: cfg.temperature,
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
        })
    }

    /// Shorter timeouts than whole seconds, for tests.
    pub fn with_timeout(mut self, timeout: Duration) -> OpenAi {
        self.timeout = timeout;
        self
    }

    async fn call(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        let mut body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": req.prompt}],
        });
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        let mut r = Request::post_json("openai", &self.url, &body, self.timeout);
        if let Some(k) = &self.key {
            r = r.secret_header("authorization", &format!("Bearer {k}"), k);
        }
        let resp = self.http.send(&r).await?;
        let v: Value = resp.json("openai")?;
        parse(&v, &self.model)
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
    let usage = Usage {
        input_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
    };
    Ok(Written {
        text: text.to_string(),
        usage,
        model: v["model"].as_str().unwrap_or(model).to_string(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_and_usage() {
        let v = json!({"model": "m1", "choices": [{"message": {"role": "assistant", "content": "# Hi"}}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 3}});
        let w = parse(&v, "cfg").unwrap();
        assert_eq!(w.text, "# Hi");
        assert_eq!(
            w.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 3
            }
        );
        assert_eq!(w.model, "m1");
        assert!(parse(&json!({"choices": []}), "m").is_err());
    }
}

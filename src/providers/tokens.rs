//! Tokens as a writer's model counts them, for prompt budgets: OpenAI's own
//! byte-pair encodings (tiktoken-rs) for the model families it names
//! (`gpt-4o`, `gpt-4.1`, `o3`, `gpt-5`… also behind a router prefix such as
//! `openai/`), characters / 4 for every other model (Claude, Llama, Qwen…),
//! whose tokenizers are not published in a form a crate ships.

use tiktoken_rs::tokenizer::Tokenizer;
use tiktoken_rs::CoreBPE;

#[derive(Clone, Copy)]
pub enum Counter {
    Bpe(&'static CoreBPE),
    Estimate,
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Counter::Bpe(_) => "Bpe",
            Counter::Estimate => "Estimate",
        })
    }
}

impl Counter {
    /// The counter for `model`; the encoding is loaded once per process,
    /// and only when a model that uses it is configured.
    pub fn for_model(model: &str) -> Counter {
        let name = model.rsplit('/').next().unwrap_or(model);
        match tiktoken_rs::tokenizer::get_tokenizer(name) {
            Some(Tokenizer::O200kBase) | Some(Tokenizer::O200kHarmony) => {
                Counter::Bpe(tiktoken_rs::o200k_base_singleton())
            }
            Some(Tokenizer::Cl100kBase) => Counter::Bpe(tiktoken_rs::cl100k_base_singleton()),
            _ => Counter::Estimate,
        }
    }

    pub fn count(&self, text: &str) -> u64 {
        match self {
            Counter::Bpe(bpe) => bpe.encode_ordinary(text).len() as u64,
            Counter::Estimate => super::prompt::estimate_tokens(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_families_use_their_encoding() {
        assert!(matches!(Counter::for_model("gpt-4o-mini"), Counter::Bpe(_)));
        assert!(matches!(
            Counter::for_model("openai/gpt-4.1"),
            Counter::Bpe(_)
        ));
        assert!(matches!(
            Counter::for_model("claude-sonnet-4-5"),
            Counter::Estimate
        ));
        assert!(matches!(Counter::for_model("llama3.1"), Counter::Estimate));
        let c = Counter::for_model("gpt-4o");
        assert_eq!(c.count("hello world"), 2);
        assert_eq!(Counter::Estimate.count("hello world"), 3);
    }
}

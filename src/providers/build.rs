//! Choose the providers for a run from config (and `--provider`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::offline::{knowledge_index, OfflineSearch, OfflineWriter};
use super::{Fetch, Search, Writer};
use crate::config::Config;
use crate::error::bad_input;
use crate::knowledge::scan::KnowledgeBase;

pub type Providers = (Arc<dyn Writer>, Arc<dyn Search>, Option<Arc<dyn Fetch>>);

pub fn build(
    cfg: &Config,
    writer_override: Option<&str>,
    kb: &KnowledgeBase,
    cache_dir: &Path,
) -> Result<Providers> {
    let _ = cache_dir;
    let writer_kind = writer_override.unwrap_or(&cfg.writer.kind);
    let index = Arc::new(knowledge_index(kb));
    let writer: Arc<dyn Writer> = match writer_kind {
        "offline" => Arc::new(OfflineWriter::new(Arc::clone(&index))),
        other => {
            return Err(bad_input(format!(
                "unknown writer `{other}`; expected offline, openai, anthropic or command"
            )))
        }
    };
    let search: Arc<dyn Search> = match cfg.search.kind.as_str() {
        "offline" => Arc::new(OfflineSearch::new(Arc::clone(&index))),
        other => {
            return Err(bad_input(format!(
                "unknown search `{other}`; expected offline, searxng, brave or tavily"
            )))
        }
    };
    Ok((writer, search, None))
}

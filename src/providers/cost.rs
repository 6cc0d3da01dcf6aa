//! Money and tokens: the cost of a call from its usage and the config price
//! table, and the run budget that says when to stop starting new PARTs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::Usage;
use crate::config::{Budget, Price};

/// Dollars for `usage` on `model`, or `None` when the model has no price.
/// A routed name such as `openai/gpt-4o` also matches a price for `gpt-4o`.
/// Prompt tokens read from or written to the provider's cache are priced at
/// their own rates (the input price when the table gives none).
pub fn cost(usage: &Usage, model: &str, prices: &BTreeMap<String, Price>) -> Option<f64> {
    let price = prices
        .get(model)
        .or_else(|| model.rsplit_once('/').and_then(|(_, m)| prices.get(m)))?;
    let cached = usage.cache_read_tokens + usage.cache_write_tokens;
    let plain = usage.input_tokens.saturating_sub(cached);
    let read = price.cache_read_per_mtok.unwrap_or(price.input_per_mtok);
    let write = price.cache_write_per_mtok.unwrap_or(price.input_per_mtok);
    Some(
        (plain as f64 * price.input_per_mtok
            + usage.cache_read_tokens as f64 * read
            + usage.cache_write_tokens as f64 * write
            + usage.output_tokens as f64 * price.output_per_mtok)
            / 1e6,
    )
}

/// Dollars as shown everywhere: `$0.0123`. A sum of no costs is -0.0 in
/// Rust (float sums start from negative zero), never shown as `$-0.0000`.
pub fn dollars(c: f64) -> String {
    format!("${:.4}", c + 0.0)
}

/// What a run has spent so far, against `budget.max_cost` / `budget.max_tokens`.
#[derive(Debug)]
pub struct BudgetTracker {
    max_cost: Option<f64>,
    max_tokens: Option<u64>,
    spent: Mutex<Spent>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spent {
    pub cost: f64,
    pub tokens: u64,
}

impl BudgetTracker {
    pub fn new(budget: &Budget) -> BudgetTracker {
        BudgetTracker {
            max_cost: budget.max_cost,
            max_tokens: budget.max_tokens,
            spent: Mutex::new(Spent::default()),
        }
    }

    /// Start from what earlier attempts of this run already spent (resume).
    pub fn with_spent(self, spent: Spent) -> BudgetTracker {
        *self.spent.lock().expect("budget lock") = spent;
        self
    }

    /// Add one call's usage and cost (`None` when the model has no price).
    pub fn record(&self, usage: &Usage, cost: Option<f64>) {
        let mut s = self.spent.lock().expect("budget lock");
        s.tokens += usage.total();
        s.cost += cost.unwrap_or(0.0);
    }

    pub fn spent(&self) -> Spent {
        *self.spent.lock().expect("budget lock")
    }

    /// `Err(ProviderError::Budget)` once no new PART should start.
    pub fn check(&self) -> Result<(), super::ProviderError> {
        match self.exhausted() {
            Some(why) => Err(super::ProviderError::Budget(why)),
            None => Ok(()),
        }
    }

    /// Why no new PART should start, or `None` while the budget lasts.
    pub fn exhausted(&self) -> Option<String> {
        let s = self.spent();
        if let Some(max) = self.max_cost {
            if s.cost >= max {
                return Some(format!(
                    "spent {} of max_cost {}",
                    dollars(s.cost),
                    dollars(max)
                ));
            }
        }
        if let Some(max) = self.max_tokens {
            if s.tokens >= max {
                return Some(format!("used {} of max_tokens {max}", s.tokens));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> BTreeMap<String, Price> {
        let mut p = BTreeMap::new();
        p.insert(
            "gpt-4o-mini".to_string(),
            Price {
                input_per_mtok: 0.15,
                output_per_mtok: 0.60,
                ..Price::default()
            },
        );
        p.insert(
            "claude".to_string(),
            Price {
                input_per_mtok: 3.0,
                output_per_mtok: 15.0,
                cache_read_per_mtok: Some(0.3),
                cache_write_per_mtok: Some(3.75),
            },
        );
        p
    }

    #[test]
    fn cached_prompt_tokens_have_their_own_rates() {
        let u = Usage {
            input_tokens: 3_000_000,
            output_tokens: 0,
            cache_read_tokens: 1_000_000,
            cache_write_tokens: 1_000_000,
        };
        let c = cost(&u, "claude", &prices()).unwrap();
        assert!((c - (3.0 + 0.3 + 3.75)).abs() < 1e-9, "{c}");
        // Without cache rates, a cached token costs what any input token does.
        let c = cost(&u, "gpt-4o-mini", &prices()).unwrap();
        assert!((c - 0.45).abs() < 1e-9, "{c}");
    }

    #[test]
    fn cost_from_price_table() {
        let u = Usage::new(1_000_000, 500_000);
        let c = cost(&u, "gpt-4o-mini", &prices()).unwrap();
        assert!((c - 0.45).abs() < 1e-9);
        assert!(cost(&u, "openai/gpt-4o-mini", &prices()).is_some());
        assert!(cost(&u, "unknown", &prices()).is_none());
    }

    #[test]
    fn budget_stops_when_reached() {
        let b = BudgetTracker::new(&Budget {
            max_cost: Some(0.01),
            max_tokens: Some(10_000),
            prompt_tokens: 1,
        });
        assert!(b.exhausted().is_none());
        b.record(&Usage::new(4_000, 1_000), Some(0.002));
        assert!(b.exhausted().is_none());
        b.record(&Usage::new(4_000, 1_000), Some(0.002));
        assert!(b.exhausted().unwrap().contains("max_tokens"));
        let c = BudgetTracker::new(&Budget {
            max_cost: Some(0.001),
            max_tokens: None,
            prompt_tokens: 1,
        });
        c.record(&Usage::default(), Some(0.002));
        assert!(c.exhausted().unwrap().contains("max_cost"));
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .starts_with("budget reached"));
    }
}

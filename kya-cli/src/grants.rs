//! Grants from the command line: a JSON file, JSON values, or shorthand flags.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use kya_core::grant::Grant;
use kya_core::json::{JsonLimits, parse_strict};
use serde_json::{Map, Value, json};

/// The grants of a new credential.
#[derive(Args, Debug)]
pub(crate) struct GrantArgs {
    /// A JSON file holding an array of grants.
    #[arg(long, value_name = "FILE", help_heading = "Grants")]
    grants: Option<PathBuf>,
    /// A grant as a JSON object (repeatable).
    #[arg(long = "grant", value_name = "JSON", help_heading = "Grants")]
    grant_json: Vec<String>,
    /// Shorthand: an action the agent may take, e.g. payments/send (repeatable; the
    /// constraints below apply to each).
    #[arg(long, value_name = "ACTION", help_heading = "Grants")]
    action: Vec<String>,
    /// Shorthand: per-request ceiling, a decimal string such as 50.00 (needs --asset).
    #[arg(
        long,
        value_name = "DECIMAL",
        requires = "asset",
        help_heading = "Grants"
    )]
    max_amount: Option<String>,
    /// Shorthand: the asset of --max-amount / --budget (ISO 4217 code or CAIP-19 id).
    #[arg(long, value_name = "ASSET", help_heading = "Grants")]
    asset: Option<String>,
    /// Shorthand: a merchant / audience the agent may deal with (repeatable).
    #[arg(long, value_name = "AUDIENCE", help_heading = "Grants")]
    audience: Vec<String>,
    /// Shorthand: a URL prefix the agent may act on (repeatable).
    #[arg(long, value_name = "URL", help_heading = "Grants")]
    resource: Vec<String>,
    /// Shorthand: total spend allowed per --budget-period (needs --asset).
    #[arg(long, value_name = "DECIMAL", requires_all = ["asset", "budget_period"], help_heading = "Grants")]
    budget: Option<String>,
    /// Shorthand: the budget's period, e.g. 1d.
    #[arg(long, value_name = "DURATION", value_parser = crate::io::parse_duration, help_heading = "Grants")]
    budget_period: Option<i64>,
    /// Shorthand: at most N requests per period, written N/DURATION, e.g. 10/60s.
    #[arg(long, value_name = "N/DURATION", help_heading = "Grants")]
    rate: Option<String>,
}

impl GrantArgs {
    /// Every grant given, parsed and checked.
    pub(crate) fn collect(&self) -> Result<Vec<Grant>> {
        let mut values: Vec<Value> = Vec::new();
        if let Some(path) = &self.grants {
            match crate::io::read_json(Some(path))? {
                Value::Array(items) => values.extend(items),
                _ => bail!("{}: expected a json array of grants", path.display()),
            }
        }
        for g in &self.grant_json {
            // The one strict reader: a repeated key in a grant is an error, not "last wins".
            values.push(
                parse_strict(g.as_bytes(), JsonLimits::default())
                    .with_context(|| format!("--grant {g}"))?,
            );
        }
        let shorthand_used = self.max_amount.is_some()
            || !self.audience.is_empty()
            || !self.resource.is_empty()
            || self.budget.is_some()
            || self.rate.is_some();
        if shorthand_used && self.action.is_empty() {
            bail!("constraint flags need at least one --action");
        }
        for action in &self.action {
            values.push(self.shorthand(action)?);
        }
        if values.is_empty() {
            bail!("no grants: give --action, --grant or --grants");
        }
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| serde_json::from_value(v).with_context(|| format!("grant {i}")))
            .collect()
    }

    fn shorthand(&self, action: &str) -> Result<Value> {
        let mut g = Map::new();
        g.insert("action".into(), action.into());
        if let Some(v) = &self.max_amount {
            g.insert("maxAmount".into(), json!({"value": v, "asset": self.asset}));
        }
        if !self.audience.is_empty() {
            g.insert("audience".into(), json!(self.audience));
        }
        if !self.resource.is_empty() {
            g.insert("resource".into(), json!(self.resource));
        }
        if let (Some(v), Some(p)) = (&self.budget, self.budget_period) {
            g.insert(
                "budget".into(),
                json!({"value": v, "asset": self.asset, "periodSeconds": p}),
            );
        }
        if let Some(rate) = &self.rate {
            let (count, period) = rate
                .split_once('/')
                .context("--rate is N/DURATION, e.g. 10/60s")?;
            let count: u64 = count.parse().context("--rate count")?;
            let period = crate::io::parse_duration(period).map_err(anyhow::Error::msg)?;
            g.insert(
                "rate".into(),
                json!({"count": count, "periodSeconds": period}),
            );
        }
        Ok(Value::Object(g))
    }
}

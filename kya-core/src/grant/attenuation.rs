//! Attenuation: when a grant is a narrowing of another (`child ⊑ parent`).
//!
//! `child ⊑ parent` is decided dimension by dimension, and each rule is sound: if the child
//! attenuates the parent, every request the child allows the parent allows, and the child's
//! obligations on it are at least as strict as the parent's
//! ([`Obligation::is_at_least_as_strict_as`](super::Obligation::is_at_least_as_strict_as)).
//! The relation is reflexive and transitive.
//!
//! Attenuation bounds one child against one parent. Siblings delegated from one parent may
//! together spend more than the parent's budget unless the verifier also charges every link
//! of the chain, which it should.

use super::json::show_list;
use super::request::period_multiple;
use super::{Action, Asset, Budget, Grant, Money, Rate, resource_matches};
use crate::timestamp::Timestamp;
use serde_json::Value;

/// Why a grant does not attenuate (narrow) another: the first dimension in which the child
/// would allow more than its parent. [`code`](Widening::code) is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Widening {
    /// The parent's action does not cover the child's.
    #[error("child action `{child}` is not covered by parent action `{parent}`")]
    ActionNotCovered {
        /// The child's action.
        child: Action,
        /// The parent's action.
        parent: Action,
    },
    /// The parent caps each request, the child does not.
    #[error("child has no maxAmount but the parent caps each request at {parent}")]
    MaxAmountMissing {
        /// The parent's `maxAmount`.
        parent: Money,
    },
    /// The ceilings are in different assets.
    #[error("child maxAmount asset {child} differs from the parent's {parent}")]
    MaxAmountAssetMismatch {
        /// The child's asset.
        child: Asset,
        /// The parent's asset.
        parent: Asset,
    },
    /// The child's ceiling is above the parent's.
    #[error("child maxAmount {child} exceeds parent {parent}")]
    MaxAmountExceeds {
        /// The child's `maxAmount`.
        child: Money,
        /// The parent's `maxAmount`.
        parent: Money,
    },
    /// The parent has a budget, the child does not.
    #[error("child has no budget but the parent has a budget of {parent}")]
    BudgetMissing {
        /// The parent's budget.
        parent: Budget,
    },
    /// The budgets are in different assets.
    #[error("child budget asset {child} differs from the parent's {parent}")]
    BudgetAssetMismatch {
        /// The child's asset.
        child: Asset,
        /// The parent's asset.
        parent: Asset,
    },
    /// The child's budget limit is above the parent's.
    #[error("child budget {child} exceeds parent budget {parent}")]
    BudgetExceeds {
        /// The child's budget limit.
        child: Money,
        /// The parent's budget limit.
        parent: Money,
    },
    /// The child's budget period is not a whole multiple of the parent's.
    #[error("child budget period {child} s is not a whole multiple of the parent's {parent} s")]
    BudgetPeriod {
        /// The child's period.
        child: u64,
        /// The parent's period.
        parent: u64,
    },
    /// The parent has a rate limit, the child does not.
    #[error("child has no rate limit but the parent allows {parent}")]
    RateMissing {
        /// The parent's rate.
        parent: Rate,
    },
    /// The child allows more requests per period.
    #[error("child rate count {child} exceeds the parent's {parent}")]
    RateCountExceeds {
        /// The child's count.
        child: u64,
        /// The parent's count.
        parent: u64,
    },
    /// The child's rate period is not a whole multiple of the parent's.
    #[error("child rate period {child} s is not a whole multiple of the parent's {parent} s")]
    RatePeriod {
        /// The child's period.
        child: u64,
        /// The parent's period.
        parent: u64,
    },
    /// The parent restricts the audience, the child does not.
    #[error(
        "child has no audience list but the parent restricts audience to {}",
        show_list(parent)
    )]
    AudienceMissing {
        /// The parent's allow-list.
        parent: Vec<String>,
    },
    /// A child audience is not on the parent's list.
    #[error(
        "child audience `{entry}` is not in the parent's allow-list {}",
        show_list(parent)
    )]
    AudienceNotAllowed {
        /// The child's entry.
        entry: String,
        /// The parent's allow-list.
        parent: Vec<String>,
    },
    /// The parent restricts resources, the child does not.
    #[error(
        "child has no resource list but the parent restricts resources to {}",
        show_list(parent)
    )]
    ResourceMissing {
        /// The parent's prefixes.
        parent: Vec<String>,
    },
    /// A child resource prefix is under no parent prefix.
    #[error(
        "child resource prefix `{prefix}` is not under any parent prefix {}",
        show_list(parent)
    )]
    ResourceNotCovered {
        /// The child's prefix.
        prefix: String,
        /// The parent's prefixes.
        parent: Vec<String>,
    },
    /// The parent has `validFrom`, the child does not.
    #[error("child has no validFrom but the parent is valid only from {parent}")]
    ValidFromMissing {
        /// The parent's `validFrom`.
        parent: Timestamp,
    },
    /// The child starts before the parent.
    #[error("child validFrom {child} is before the parent's {parent}")]
    ValidFromEarlier {
        /// The child's `validFrom`.
        child: Timestamp,
        /// The parent's `validFrom`.
        parent: Timestamp,
    },
    /// The parent has `validUntil`, the child does not.
    #[error("child has no validUntil but the parent is valid only until {parent}")]
    ValidUntilMissing {
        /// The parent's `validUntil`.
        parent: Timestamp,
    },
    /// The child ends after the parent.
    #[error("child validUntil {child} is after the parent's {parent}")]
    ValidUntilLater {
        /// The child's `validUntil`.
        child: Timestamp,
        /// The parent's `validUntil`.
        parent: Timestamp,
    },
    /// The parent has an unknown constraint the child drops.
    #[error("child drops the parent's unknown constraint `{name}`")]
    UnknownConstraintDropped {
        /// The member's name.
        name: String,
    },
    /// The child changes the value of the parent's unknown constraint.
    #[error("child changes the parent's unknown constraint `{name}` from {parent} to {child}")]
    UnknownConstraintChanged {
        /// The member's name.
        name: String,
        /// The child's value.
        child: Value,
        /// The parent's value.
        parent: Value,
    },
    /// There is no parent grant at all.
    #[error("the parent has no grants")]
    NoParentGrant,
}

impl Widening {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ActionNotCovered { .. } => "action_widened",
            Self::MaxAmountMissing { .. } => "max_amount_missing",
            Self::MaxAmountAssetMismatch { .. } => "max_amount_asset_mismatch",
            Self::MaxAmountExceeds { .. } => "max_amount_exceeds",
            Self::BudgetMissing { .. } => "budget_missing",
            Self::BudgetAssetMismatch { .. } => "budget_asset_mismatch",
            Self::BudgetExceeds { .. } => "budget_exceeds",
            Self::BudgetPeriod { .. } => "budget_period_widened",
            Self::RateMissing { .. } => "rate_missing",
            Self::RateCountExceeds { .. } => "rate_count_exceeds",
            Self::RatePeriod { .. } => "rate_period_widened",
            Self::AudienceMissing { .. } => "audience_unrestricted",
            Self::AudienceNotAllowed { .. } => "audience_widened",
            Self::ResourceMissing { .. } => "resource_unrestricted",
            Self::ResourceNotCovered { .. } => "resource_widened",
            Self::ValidFromMissing { .. } => "valid_from_missing",
            Self::ValidFromEarlier { .. } => "valid_from_earlier",
            Self::ValidUntilMissing { .. } => "valid_until_missing",
            Self::ValidUntilLater { .. } => "valid_until_later",
            Self::UnknownConstraintDropped { .. } => "unknown_constraint_dropped",
            Self::UnknownConstraintChanged { .. } => "unknown_constraint_changed",
            Self::NoParentGrant => "no_parent_grant",
        }
    }
}

/// A child grant that no parent grant covers, from [`GrantSet::attenuates`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_set(self))]
pub struct GrantSetWidening {
    /// The uncovered child grant's position.
    pub child_index: usize,
    /// The closest parent grant's position (`None` if the parent has no grants).
    pub parent_index: Option<usize>,
    /// Why that closest parent grant does not cover it.
    pub reason: Widening,
}

fn describe_set(w: &GrantSetWidening) -> String {
    match w.parent_index {
        Some(p) => format!(
            "child grant {} is not a narrowing of any parent grant; closest is parent grant {p}: {}",
            w.child_index, w.reason
        ),
        None => format!("child grant {} is not covered: {}", w.child_index, w.reason),
    }
}

impl Grant {
    /// Decides `self ⊑ parent`: `Ok` if this grant only narrows `parent`, else the first
    /// widening found (in the order of [`widenings`](Grant::widenings)).
    // The error carries the values that explain it; attenuation is not a hot path.
    #[allow(clippy::result_large_err)]
    pub fn attenuates(&self, parent: &Grant) -> Result<(), Widening> {
        match self.widenings(parent).into_iter().next() {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    /// Every way in which this grant is wider than `parent` (empty iff it attenuates it):
    /// action, maxAmount, budget, rate, audience, resource, validity window, unknown
    /// constraints, in that order. At most one widening per constraint (for an allow-list,
    /// its first offending entry), plus one per unknown constraint of `parent`: the report
    /// stays bounded however long the lists are.
    pub fn widenings(&self, parent: &Grant) -> Vec<Widening> {
        let mut w = Vec::new();
        if !parent.action.covers(&self.action) {
            w.push(Widening::ActionNotCovered {
                child: self.action.clone(),
                parent: parent.action.clone(),
            });
        }
        if let Some(p) = &parent.max_amount {
            match &self.max_amount {
                None => w.push(Widening::MaxAmountMissing { parent: p.clone() }),
                Some(c) if c.asset != p.asset => w.push(Widening::MaxAmountAssetMismatch {
                    child: c.asset.clone(),
                    parent: p.asset.clone(),
                }),
                Some(c) if c.value > p.value => {
                    w.push(Widening::MaxAmountExceeds {
                        child: c.clone(),
                        parent: p.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(p) = &parent.budget {
            match &self.budget {
                None => w.push(Widening::BudgetMissing { parent: p.clone() }),
                Some(c) => {
                    let (cl, pl) = (c.limit(), p.limit());
                    if cl.asset != pl.asset {
                        w.push(Widening::BudgetAssetMismatch {
                            child: cl.asset.clone(),
                            parent: pl.asset.clone(),
                        });
                    } else if cl.value > pl.value {
                        w.push(Widening::BudgetExceeds {
                            child: cl.clone(),
                            parent: pl.clone(),
                        });
                    }
                    if !period_multiple(c.period_seconds(), p.period_seconds()) {
                        w.push(Widening::BudgetPeriod {
                            child: c.period_seconds(),
                            parent: p.period_seconds(),
                        });
                    }
                }
            }
        }
        if let Some(p) = &parent.rate {
            match &self.rate {
                None => w.push(Widening::RateMissing { parent: *p }),
                Some(c) => {
                    if c.count() > p.count() {
                        w.push(Widening::RateCountExceeds {
                            child: c.count(),
                            parent: p.count(),
                        });
                    }
                    if !period_multiple(c.period_seconds(), p.period_seconds()) {
                        w.push(Widening::RatePeriod {
                            child: c.period_seconds(),
                            parent: p.period_seconds(),
                        });
                    }
                }
            }
        }
        if let Some(p) = &parent.audience {
            match &self.audience {
                None => w.push(Widening::AudienceMissing {
                    parent: p.entries().to_vec(),
                }),
                Some(c) => {
                    // The first offending entry only: one widening per constraint keeps the
                    // report (and its copy of the parent's list) bounded whatever the list
                    // lengths (fuzz/resource bounds: `widenings_are_bounded_per_constraint`).
                    if let Some(e) = c.entries().iter().find(|e| !p.allows(e)) {
                        w.push(Widening::AudienceNotAllowed {
                            entry: e.clone(),
                            parent: p.entries().to_vec(),
                        });
                    }
                }
            }
        }
        if let Some(p) = &parent.resource {
            match &self.resource {
                None => w.push(Widening::ResourceMissing {
                    parent: p.prefixes().to_vec(),
                }),
                Some(c) => {
                    // The first uncovered prefix only (see the audience case).
                    if let Some(prefix) = c
                        .prefixes()
                        .iter()
                        .find(|prefix| !p.prefixes().iter().any(|pp| resource_matches(pp, prefix)))
                    {
                        w.push(Widening::ResourceNotCovered {
                            prefix: prefix.clone(),
                            parent: p.prefixes().to_vec(),
                        });
                    }
                }
            }
        }
        if let Some(p) = parent.valid_from {
            match self.valid_from {
                None => w.push(Widening::ValidFromMissing { parent: p }),
                Some(c) if c < p => w.push(Widening::ValidFromEarlier {
                    child: c,
                    parent: p,
                }),
                Some(_) => {}
            }
        }
        if let Some(p) = parent.valid_until {
            match self.valid_until {
                None => w.push(Widening::ValidUntilMissing { parent: p }),
                Some(c) if c > p => w.push(Widening::ValidUntilLater {
                    child: c,
                    parent: p,
                }),
                Some(_) => {}
            }
        }
        for (name, pv) in &parent.unknown {
            match self.unknown.get(name) {
                None => w.push(Widening::UnknownConstraintDropped { name: name.clone() }),
                Some(cv) if cv != pv => w.push(Widening::UnknownConstraintChanged {
                    name: name.clone(),
                    child: cv.clone(),
                    parent: pv.clone(),
                }),
                Some(_) => {}
            }
        }
        w
    }
}

/// A set of grants (a credential's), for the set form of attenuation.
///
/// `GrantSet(children).attenuates(parents)` reads like [`Grant::attenuates`]: the child is the
/// receiver and the parent the argument, so the two slices cannot be swapped unnoticed as two
/// positional arguments of one type could.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrantSet<'a>(pub &'a [Grant]);

impl GrantSet<'_> {
    /// Decides whether this set (the children) narrows `parents`: every child grant
    /// attenuates some parent grant. For a child grant that attenuates none, reports the
    /// closest parent grant (one whose action covers it, with the fewest widenings, the
    /// earliest on ties) and its first widening.
    #[allow(clippy::result_large_err)]
    pub fn attenuates(&self, parents: &[Grant]) -> Result<(), GrantSetWidening> {
        attenuates_all(self.0, parents)
    }
}

#[allow(clippy::result_large_err)]
fn attenuates_all(children: &[Grant], parents: &[Grant]) -> Result<(), GrantSetWidening> {
    'children: for (child_index, child) in children.iter().enumerate() {
        let mut best: Option<(usize, Vec<Widening>)> = None;
        for (parent_index, parent) in parents.iter().enumerate() {
            let w = child.widenings(parent);
            if w.is_empty() {
                continue 'children;
            }
            let rank = |w: &[Widening]| (!parent_covers_action(w), w.len());
            if best.as_ref().is_none_or(|(_, b)| rank(&w) < rank(b)) {
                best = Some((parent_index, w));
            }
        }
        return Err(match best {
            Some((parent_index, reasons)) => GrantSetWidening {
                child_index,
                parent_index: Some(parent_index),
                reason: reasons
                    .into_iter()
                    .next()
                    .unwrap_or(Widening::NoParentGrant),
            },
            None => GrantSetWidening {
                child_index,
                parent_index: None,
                reason: Widening::NoParentGrant,
            },
        });
    }
    Ok(())
}

fn parent_covers_action(w: &[Widening]) -> bool {
    !w.iter()
        .any(|w| matches!(w, Widening::ActionNotCovered { .. }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn g(v: Value) -> Grant {
        Grant::from_json_value(&v).unwrap()
    }

    /// (name, parent, child, expected widening code or None when the child attenuates).
    fn cases() -> Vec<(&'static str, Value, Value, Option<&'static str>)> {
        let usd50 = json!({"value": "50.00", "asset": "USD"});
        vec![
            (
                "identical",
                json!({"action": "payments", "maxAmount": usd50}),
                json!({"action": "payments", "maxAmount": usd50}),
                None,
            ),
            (
                "sub-action, smaller amount written differently",
                json!({"action": "payments", "maxAmount": usd50}),
                json!({"action": "payments/send", "maxAmount": {"value": "49.999", "asset": "USD"}}),
                None,
            ),
            (
                "equal amount, other scale",
                json!({"action": "payments", "maxAmount": usd50}),
                json!({"action": "payments", "maxAmount": {"value": "50", "asset": "USD"}}),
                None,
            ),
            (
                "root parent covers all, child adds constraints",
                json!({"action": "*"}),
                json!({"action": "data/read", "audience": ["did:web:a"], "rate": {"count": 1, "periodSeconds": 1}}),
                None,
            ),
            (
                "sibling action",
                json!({"action": "payments/send"}),
                json!({"action": "payments/refund"}),
                Some("action_widened"),
            ),
            (
                "segment-prefix is not coverage",
                json!({"action": "payments"}),
                json!({"action": "paymentsx"}),
                Some("action_widened"),
            ),
            (
                "child root under non-root",
                json!({"action": "payments"}),
                json!({"action": "*"}),
                Some("action_widened"),
            ),
            (
                "amount above",
                json!({"action": "a", "maxAmount": usd50}),
                json!({"action": "a", "maxAmount": {"value": "75.00", "asset": "USD"}}),
                Some("max_amount_exceeds"),
            ),
            (
                "amount dropped",
                json!({"action": "a", "maxAmount": usd50}),
                json!({"action": "a"}),
                Some("max_amount_missing"),
            ),
            (
                "amount in another asset",
                json!({"action": "a", "maxAmount": usd50}),
                json!({"action": "a", "maxAmount": {"value": "1", "asset": "EUR"}}),
                Some("max_amount_asset_mismatch"),
            ),
            (
                "audience subset",
                json!({"action": "a", "audience": ["did:web:a", "did:web:b"]}),
                json!({"action": "a", "audience": ["did:web:b"]}),
                None,
            ),
            (
                "audience dropped",
                json!({"action": "a", "audience": ["did:web:a"]}),
                json!({"action": "a"}),
                Some("audience_unrestricted"),
            ),
            (
                "audience added",
                json!({"action": "a", "audience": ["did:web:a"]}),
                json!({"action": "a", "audience": ["did:web:a", "did:web:c"]}),
                Some("audience_widened"),
            ),
            (
                "resource narrowed by path",
                json!({"action": "a", "resource": ["https://shop.example/api"]}),
                json!({"action": "a", "resource": ["https://shop.example/api/v1", "https://shop.example/api?x=1"]}),
                None,
            ),
            (
                "resource sibling by string prefix",
                json!({"action": "a", "resource": ["https://shop.example/api"]}),
                json!({"action": "a", "resource": ["https://shop.example/apix"]}),
                Some("resource_widened"),
            ),
            (
                "resource dropped",
                json!({"action": "a", "resource": ["https://x/"]}),
                json!({"action": "a"}),
                Some("resource_unrestricted"),
            ),
            (
                "window inside",
                json!({"action": "a", "validFrom": "2026-01-01T00:00:00Z", "validUntil": "2026-12-31T00:00:00Z"}),
                json!({"action": "a", "validFrom": "2026-02-01T00:00:00Z", "validUntil": "2026-03-01T00:00:00+01:00"}),
                None,
            ),
            (
                "window starts earlier",
                json!({"action": "a", "validFrom": "2026-01-01T00:00:00Z"}),
                json!({"action": "a", "validFrom": "2025-12-31T23:59:59Z"}),
                Some("valid_from_earlier"),
            ),
            (
                "window unbounded end",
                json!({"action": "a", "validUntil": "2026-01-01T00:00:00Z"}),
                json!({"action": "a"}),
                Some("valid_until_missing"),
            ),
            (
                "window ends later",
                json!({"action": "a", "validUntil": "2026-01-01T00:00:00Z"}),
                json!({"action": "a", "validUntil": "2026-01-01T00:00:01Z"}),
                Some("valid_until_later"),
            ),
            (
                "budget narrowed, period a multiple",
                json!({"action": "a", "budget": {"value": "200", "asset": "USD", "periodSeconds": 3600}}),
                json!({"action": "a", "budget": {"value": "100", "asset": "USD", "periodSeconds": 86400}}),
                None,
            ),
            (
                "budget period not a multiple",
                json!({"action": "a", "budget": {"value": "200", "asset": "USD", "periodSeconds": 60}}),
                json!({"action": "a", "budget": {"value": "100", "asset": "USD", "periodSeconds": 90}}),
                Some("budget_period_widened"),
            ),
            (
                "budget period shorter",
                json!({"action": "a", "budget": {"value": "200", "asset": "USD", "periodSeconds": 60}}),
                json!({"action": "a", "budget": {"value": "100", "asset": "USD", "periodSeconds": 30}}),
                Some("budget_period_widened"),
            ),
            (
                "budget larger",
                json!({"action": "a", "budget": {"value": "200", "asset": "USD", "periodSeconds": 60}}),
                json!({"action": "a", "budget": {"value": "200.01", "asset": "USD", "periodSeconds": 60}}),
                Some("budget_exceeds"),
            ),
            (
                "budget dropped",
                json!({"action": "a", "budget": {"value": "200", "asset": "USD", "periodSeconds": 60}}),
                json!({"action": "a", "maxAmount": usd50}),
                Some("budget_missing"),
            ),
            (
                "rate narrowed",
                json!({"action": "a", "rate": {"count": 10, "periodSeconds": 60}}),
                json!({"action": "a", "rate": {"count": 10, "periodSeconds": 120}}),
                None,
            ),
            (
                "rate count above",
                json!({"action": "a", "rate": {"count": 10, "periodSeconds": 60}}),
                json!({"action": "a", "rate": {"count": 11, "periodSeconds": 3600}}),
                Some("rate_count_exceeds"),
            ),
            (
                "rate dropped",
                json!({"action": "a", "rate": {"count": 10, "periodSeconds": 60}}),
                json!({"action": "a"}),
                Some("rate_missing"),
            ),
            (
                "unknown kept, child adds one",
                json!({"action": "a", "geo": ["EU"]}),
                json!({"action": "a", "geo": ["EU"], "kyc": true}),
                None,
            ),
            (
                "unknown dropped",
                json!({"action": "a", "geo": ["EU"]}),
                json!({"action": "a"}),
                Some("unknown_constraint_dropped"),
            ),
            (
                "unknown changed",
                json!({"action": "a", "geo": ["EU"]}),
                json!({"action": "a", "geo": ["EU", "US"]}),
                Some("unknown_constraint_changed"),
            ),
        ]
    }

    #[test]
    fn attenuation_table() {
        for (name, parent, child, expected) in cases() {
            let (p, c) = (g(parent), g(child));
            let got = c.attenuates(&p).err().map(|w| w.code());
            assert_eq!(got, expected, "{name}: {:?}", c.attenuates(&p));
            assert_eq!(p.attenuates(&p), Ok(()), "{name}: parent reflexive");
            assert_eq!(c.attenuates(&c), Ok(()), "{name}: child reflexive");
        }
    }

    #[test]
    fn messages_name_the_values() {
        let p = g(
            json!({"action": "a", "maxAmount": {"value": "50.00", "asset": "USD"}, "audience": ["did:web:a", "did:web:b"]}),
        );
        let c = g(json!({"action": "a", "maxAmount": {"value": "75.00", "asset": "USD"}}));
        let w = c.widenings(&p);
        assert_eq!(
            w[0].to_string(),
            "child maxAmount 75.00 USD exceeds parent 50.00 USD"
        );
        assert_eq!(
            w[1].to_string(),
            "child has no audience list but the parent restricts audience to [did:web:a, did:web:b]"
        );
        let p = g(json!({"action": "a", "validUntil": "2026-01-01T00:00:00Z"}));
        let c = g(json!({"action": "a", "validUntil": "2027-01-01T00:00:00Z"}));
        assert_eq!(
            c.attenuates(&p).unwrap_err().to_string(),
            "child validUntil 2027-01-01T00:00:00Z is after the parent's 2026-01-01T00:00:00Z"
        );
    }

    #[test]
    fn set_level() {
        let parents = vec![
            g(json!({"action": "data/read"})),
            g(json!({"action": "payments", "maxAmount": {"value": "50", "asset": "USD"}})),
        ];
        let ok = vec![
            g(json!({"action": "payments/send", "maxAmount": {"value": "10", "asset": "USD"}})),
            g(json!({"action": "data/read/public"})),
        ];
        assert_eq!(GrantSet(&ok).attenuates(&parents), Ok(()));
        assert_eq!(GrantSet(&[]).attenuates(&parents), Ok(()));
        assert_eq!(GrantSet(&[]).attenuates(&[]), Ok(()));

        let bad = vec![
            ok[0].clone(),
            g(json!({"action": "payments/send", "maxAmount": {"value": "75", "asset": "USD"}})),
        ];
        let err = GrantSet(&bad).attenuates(&parents).unwrap_err();
        assert_eq!(err.child_index, 1);
        assert_eq!(err.parent_index, Some(1));
        assert_eq!(err.reason.code(), "max_amount_exceeds");
        assert_eq!(
            err.to_string(),
            "child grant 1 is not a narrowing of any parent grant; closest is parent grant 1: child maxAmount 75 USD exceeds parent 50 USD"
        );

        let err = GrantSet(&[g(json!({"action": "admin"}))])
            .attenuates(&parents)
            .unwrap_err();
        assert_eq!(
            (err.parent_index, err.reason.code()),
            (Some(0), "action_widened")
        );

        let err = GrantSet(&ok).attenuates(&[]).unwrap_err();
        assert_eq!(
            (err.child_index, err.parent_index, err.reason.code()),
            (0, None, "no_parent_grant")
        );
    }
}

//! Requests, and evaluating grants against them.

use std::fmt;

use super::json::{self, show_list};
use super::{Action, Amount, Asset, Budget, Grant, GrantError, Money};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// What an agent wants to do, to be checked against its grants.
///
/// JSON: `{ "action": "payments/send", "amount": { "value": "20", "asset": "USD" },
/// "audience": "did:web:shop.example", "resource": "https://shop.example/api/pay",
/// "time": "2026-06-01T12:00:00Z" }` (`amount`, `audience` and `resource` optional).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The action asked for.
    pub action: Action,
    /// The amount the request moves, with its asset.
    pub amount: Option<Money>,
    /// Who the request is addressed to (a merchant DID or origin).
    pub audience: Option<String>,
    /// The resource URL, normalised by the caller.
    pub resource: Option<String>,
    /// When the request happens.
    pub time: Timestamp,
}

impl Request {
    /// A request for `action` at `time`, without amount, audience or resource.
    pub fn new(action: Action, time: Timestamp) -> Self {
        Self {
            action,
            amount: None,
            audience: None,
            resource: None,
            time,
        }
    }

    /// Sets the amount.
    #[must_use]
    pub fn with_amount(mut self, value: Amount, asset: Asset) -> Self {
        self.amount = Some(Money { value, asset });
        self
    }

    /// Sets the audience.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the resource.
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Parses a request from a JSON value.
    pub fn from_json_value(v: &Value) -> Result<Self, GrantError> {
        let obj = json::as_object("request", v)?;
        json::only(
            "request",
            obj,
            &["action", "amount", "audience", "resource", "time"],
        )?;
        let get = |k: &str| {
            obj.get(k)
                .ok_or_else(|| GrantError::MissingField { field: k.into() })
        };
        let action = Action::parse(json::as_str("action", get("action")?)?)?;
        let time = json::parse_datetime("time", json::as_str("time", get("time")?)?)?;
        let mut r = Self::new(action, time);
        if let Some(v) = obj.get("amount") {
            r.amount = Some(Money::from_json("amount", v)?);
        }
        if let Some(v) = obj.get("audience") {
            r.audience = Some(json::as_str("audience", v)?.to_owned());
        }
        if let Some(v) = obj.get("resource") {
            r.resource = Some(json::as_str("resource", v)?.to_owned());
        }
        Ok(r)
    }

    /// The request as JSON.
    pub fn to_json_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("action".into(), Value::String(self.action.to_string()));
        if let Some(a) = &self.amount {
            m.insert("amount".into(), a.to_json());
        }
        if let Some(a) = &self.audience {
            m.insert("audience".into(), Value::String(a.clone()));
        }
        if let Some(r) = &self.resource {
            m.insert("resource".into(), Value::String(r.clone()));
        }
        m.insert("time".into(), Value::String(self.time.to_string()));
        Value::Object(m)
    }
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = json::strict_value(d)?;
        Request::from_json_value(&v).map_err(serde::de::Error::custom)
    }
}

/// One reason a grant does not allow a request. [`code`](Violation::code) is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The grant's action does not cover the requested action.
    #[error("action `{requested}` is not covered by the granted action `{granted}`")]
    ActionNotCovered {
        /// The requested action.
        requested: Action,
        /// The granted action.
        granted: Action,
    },
    /// The grant limits amounts (`maxAmount` or `budget`) but the request has none.
    #[error("the grant's {constraint} requires an amount in {asset}, but the request has none")]
    AmountMissing {
        /// `maxAmount` or `budget`.
        constraint: &'static str,
        /// The asset the constraint is denominated in.
        asset: Asset,
    },
    /// The request's asset is not the constraint's.
    #[error("request asset {requested} does not match the {constraint} asset {expected}")]
    AssetMismatch {
        /// `maxAmount` or `budget`.
        constraint: &'static str,
        /// The request's asset.
        requested: Asset,
        /// The constraint's asset.
        expected: Asset,
    },
    /// The amount is above `maxAmount`.
    #[error("amount {requested} exceeds the ceiling {ceiling}")]
    AmountExceedsCeiling {
        /// The request's amount.
        requested: Money,
        /// The grant's `maxAmount`.
        ceiling: Money,
    },
    /// The amount alone is above the whole budget of a period.
    #[error("amount {requested} exceeds the whole budget {budget}")]
    AmountExceedsBudget {
        /// The request's amount.
        requested: Money,
        /// The grant's budget.
        budget: Budget,
    },
    /// The amount is written with more decimals than a budget counts
    /// ([`MAX_BUDGET_DECIMALS`]): a period's total is counted at the finest scale charged, and
    /// one charge of a tiny amount must not leave the counter no room for any other.
    #[error(
        "amount {requested} is written with {decimals} decimals; a budget of {budget} counts at most {max_decimals}"
    )]
    AmountTooPrecise {
        /// The request's amount.
        requested: Money,
        /// The decimals it is written with.
        decimals: u8,
        /// The most decimals the budget counts.
        max_decimals: u8,
        /// The grant's budget.
        budget: Budget,
    },
    /// The grant restricts the audience but the request names none.
    #[error(
        "the grant restricts audience to {}, but the request names none",
        show_list(allowed)
    )]
    AudienceMissing {
        /// The allow-list.
        allowed: Vec<String>,
    },
    /// The request's audience is not on the allow-list.
    #[error(
        "audience `{requested}` is not in the allow-list {}",
        show_list(allowed)
    )]
    AudienceNotAllowed {
        /// The request's audience.
        requested: String,
        /// The allow-list.
        allowed: Vec<String>,
    },
    /// The grant restricts resources but the request names none.
    #[error(
        "the grant restricts resources to {}, but the request names none",
        show_list(allowed)
    )]
    ResourceMissing {
        /// The allowed prefixes.
        allowed: Vec<String>,
    },
    /// The request's resource is under no allowed prefix.
    #[error(
        "resource `{requested}` is not under any allowed prefix {}",
        show_list(allowed)
    )]
    ResourceNotAllowed {
        /// The request's resource.
        requested: String,
        /// The allowed prefixes.
        allowed: Vec<String>,
    },
    /// The request comes before `validFrom`.
    #[error("the grant is not valid before {valid_from} (request time {at})")]
    GrantNotYetValid {
        /// The request time.
        at: Timestamp,
        /// The grant's `validFrom`.
        valid_from: Timestamp,
    },
    /// The request comes after `validUntil`.
    #[error("the grant expired at {valid_until} (request time {at})")]
    GrantExpired {
        /// The request time.
        at: Timestamp,
        /// The grant's `validUntil`.
        valid_until: Timestamp,
    },
    /// The grant carries a constraint kya does not understand, so it denies.
    #[error("unknown constraint `{name}` (fail closed)")]
    UnknownConstraint {
        /// The member's name.
        name: String,
    },
}

impl Violation {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ActionNotCovered { .. } => "action_not_covered",
            Self::AmountMissing { .. } => "amount_missing",
            Self::AssetMismatch { .. } => "asset_mismatch",
            Self::AmountExceedsCeiling { .. } => "amount_exceeds_ceiling",
            Self::AmountExceedsBudget { .. } => "amount_exceeds_budget",
            Self::AmountTooPrecise { .. } => "amount_too_precise",
            Self::AudienceMissing { .. } => "audience_missing",
            Self::AudienceNotAllowed { .. } => "audience_not_allowed",
            Self::ResourceMissing { .. } => "resource_missing",
            Self::ResourceNotAllowed { .. } => "resource_not_allowed",
            Self::GrantNotYetValid { .. } => "grant_not_yet_valid",
            Self::GrantExpired { .. } => "grant_expired",
            Self::UnknownConstraint { .. } => "unknown_constraint",
        }
    }
}

/// A stateful duty an allowed request incurs, enforced by a verifier through its ledger
/// (keyed by the credential and grant it comes from).
///
/// Windows may be sliding or aligned to the Unix epoch in multiples of `period_seconds`;
/// attenuation only lets a child lengthen a period by a whole multiple, which is sound for
/// both.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Obligation {
    /// Charge `charge` against a budget of `limit` per `period_seconds`; deny if the period's
    /// total would exceed the limit.
    Budget {
        /// The request's amount.
        charge: Money,
        /// The most that may be spent per period.
        limit: Money,
        /// The period in seconds.
        period_seconds: u64,
    },
    /// Record one event against at most `count` per `period_seconds`.
    Rate {
        /// Events per period.
        count: u64,
        /// The period in seconds.
        period_seconds: u64,
    },
}

impl Obligation {
    /// A stable, machine-readable code: `budget` or `rate`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Budget { .. } => "budget",
            Self::Rate { .. } => "rate",
        }
    }

    /// Whether meeting `self` implies meeting `other`: same kind (and for budgets the same
    /// charge and asset), a limit no larger, and a period that is a whole multiple of
    /// `other`'s.
    pub fn is_at_least_as_strict_as(&self, other: &Obligation) -> bool {
        match (self, other) {
            (
                Self::Budget {
                    charge,
                    limit,
                    period_seconds,
                },
                Self::Budget {
                    charge: c2,
                    limit: l2,
                    period_seconds: p2,
                },
            ) => {
                charge == c2
                    && limit.asset == l2.asset
                    && limit.value <= l2.value
                    && period_multiple(*period_seconds, *p2)
            }
            (
                Self::Rate {
                    count,
                    period_seconds,
                },
                Self::Rate {
                    count: c2,
                    period_seconds: p2,
                },
            ) => count <= c2 && period_multiple(*period_seconds, *p2),
            _ => false,
        }
    }
}

/// Whether `child` is a whole (non-zero) multiple of `parent`.
pub(crate) fn period_multiple(child: u64, parent: u64) -> bool {
    parent != 0 && child >= parent && child % parent == 0
}

impl fmt::Display for Obligation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Budget {
                charge,
                limit,
                period_seconds,
            } => {
                write!(
                    f,
                    "charge {charge} against a budget of {limit} per {period_seconds} s"
                )
            }
            Self::Rate {
                count,
                period_seconds,
            } => {
                write!(
                    f,
                    "count one request against {count} per {period_seconds} s"
                )
            }
        }
    }
}

/// The outcome of [`Grant::evaluate`]: every violation, and the obligations an allowed
/// request incurs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantEvaluation {
    /// Every reason the grant denies (empty: allowed, subject to the obligations).
    pub violations: Vec<Violation>,
    /// The stateful obligations the grant imposes on this request.
    pub obligations: Vec<Obligation>,
}

impl GrantEvaluation {
    /// Whether no constraint is violated.
    pub fn is_allowed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The obligations if allowed, else the violations.
    pub fn into_result(self) -> Result<Vec<Obligation>, Vec<Violation>> {
        if self.violations.is_empty() {
            Ok(self.obligations)
        } else {
            Err(self.violations)
        }
    }
}

/// The most decimals a charge against a budget may be written with (an ERC-20 token's
/// finest unit has 18). A period's total is counted at the finest scale charged, so with 18
/// decimals any total up to 10^20 fits the ledger's [`MAX_AMOUNT_DIGITS`](super::MAX_AMOUNT_DIGITS)
/// digits (a budget beyond that may refuse a charge that would fit it: fail closed). One
/// bound for every grant, so that a narrowed grant never allows what its parent refuses.
pub const MAX_BUDGET_DECIMALS: u8 = 18;

impl Grant {
    /// Checks `request` against this grant, listing every violation and the obligations.
    pub fn evaluate(&self, request: &Request) -> GrantEvaluation {
        let mut v = Vec::new();
        let mut obligations = Vec::new();
        if !self.action.covers(&request.action) {
            v.push(Violation::ActionNotCovered {
                requested: request.action.clone(),
                granted: self.action.clone(),
            });
        }
        if let Some(ceiling) = &self.max_amount {
            match &request.amount {
                None => v.push(Violation::AmountMissing {
                    constraint: "maxAmount",
                    asset: ceiling.asset.clone(),
                }),
                Some(m) if m.asset != ceiling.asset => v.push(Violation::AssetMismatch {
                    constraint: "maxAmount",
                    requested: m.asset.clone(),
                    expected: ceiling.asset.clone(),
                }),
                Some(m) if m.value > ceiling.value => v.push(Violation::AmountExceedsCeiling {
                    requested: m.clone(),
                    ceiling: ceiling.clone(),
                }),
                Some(_) => {}
            }
        }
        if let Some(budget) = &self.budget {
            let limit = budget.limit();
            match &request.amount {
                None => v.push(Violation::AmountMissing {
                    constraint: "budget",
                    asset: limit.asset.clone(),
                }),
                Some(m) if m.asset != limit.asset => v.push(Violation::AssetMismatch {
                    constraint: "budget",
                    requested: m.asset.clone(),
                    expected: limit.asset.clone(),
                }),
                Some(m) => {
                    if m.value > limit.value {
                        v.push(Violation::AmountExceedsBudget {
                            requested: m.clone(),
                            budget: budget.clone(),
                        });
                    }
                    // A charge more precise than a total can be counted at would leave the
                    // period's counter no room for any other charge.
                    if m.value.scale() > MAX_BUDGET_DECIMALS {
                        v.push(Violation::AmountTooPrecise {
                            requested: m.clone(),
                            decimals: m.value.scale(),
                            max_decimals: MAX_BUDGET_DECIMALS,
                            budget: budget.clone(),
                        });
                    }
                    obligations.push(Obligation::Budget {
                        charge: m.clone(),
                        limit: limit.clone(),
                        period_seconds: budget.period_seconds(),
                    });
                }
            }
        }
        if let Some(rate) = &self.rate {
            obligations.push(Obligation::Rate {
                count: rate.count(),
                period_seconds: rate.period_seconds(),
            });
        }
        if let Some(audience) = &self.audience {
            match &request.audience {
                None => v.push(Violation::AudienceMissing {
                    allowed: audience.entries().to_vec(),
                }),
                Some(a) if !audience.allows(a) => v.push(Violation::AudienceNotAllowed {
                    requested: a.clone(),
                    allowed: audience.entries().to_vec(),
                }),
                Some(_) => {}
            }
        }
        if let Some(resource) = &self.resource {
            match &request.resource {
                None => v.push(Violation::ResourceMissing {
                    allowed: resource.prefixes().to_vec(),
                }),
                Some(r) if !resource.allows(r) => v.push(Violation::ResourceNotAllowed {
                    requested: r.clone(),
                    allowed: resource.prefixes().to_vec(),
                }),
                Some(_) => {}
            }
        }
        if let Some(from) = self.valid_from {
            if request.time < from {
                v.push(Violation::GrantNotYetValid {
                    at: request.time,
                    valid_from: from,
                });
            }
        }
        if let Some(until) = self.valid_until {
            if request.time > until {
                v.push(Violation::GrantExpired {
                    at: request.time,
                    valid_until: until,
                });
            }
        }
        for name in self.unknown.keys() {
            v.push(Violation::UnknownConstraint { name: name.clone() });
        }
        GrantEvaluation {
            violations: v,
            obligations,
        }
    }

    /// [`evaluate`](Self::evaluate) for a decision made now: the grant's window must also
    /// hold at the decider's `now` (within `skew_secs`), since a request's `time` is whatever
    /// its sender or caller names — an expired grant never allows a request that claims an
    /// earlier time, nor a grant not yet valid one that claims a later time.
    pub fn evaluate_at(
        &self,
        request: &Request,
        now: Timestamp,
        skew_secs: i64,
    ) -> GrantEvaluation {
        let mut evaluation = self.evaluate(request);
        if let Some(until) = self.valid_until
            && request.time <= until
            && now.add_seconds(-skew_secs) > until
        {
            evaluation.violations.push(Violation::GrantExpired {
                at: now,
                valid_until: until,
            });
        }
        if let Some(from) = self.valid_from
            && request.time >= from
            && now.add_seconds(skew_secs) < from
        {
            evaluation.violations.push(Violation::GrantNotYetValid {
                at: now,
                valid_from: from,
            });
        }
        evaluation
    }

    /// Whether this grant allows `request` (ignoring obligations).
    pub fn allows(&self, request: &Request) -> bool {
        self.evaluate(request).is_allowed()
    }
}

/// The grant that allows a request, found by [`grants_allow`].
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed<'g> {
    /// Its position in the list.
    pub index: usize,
    /// The grant.
    pub grant: &'g Grant,
    /// The obligations it imposes.
    pub obligations: Vec<Obligation>,
}

/// No grant allows a request: each grant's violations, by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_denied(.0))]
pub struct Denied(pub Vec<(usize, Vec<Violation>)>);

fn describe_denied(reasons: &[(usize, Vec<Violation>)]) -> String {
    if reasons.is_empty() {
        return "no grant allows the request: there are no grants".to_owned();
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|(i, vs)| {
            let why: Vec<String> = vs.iter().map(ToString::to_string).collect();
            format!("grant {i}: {}", why.join("; "))
        })
        .collect();
    format!("no grant allows the request ({})", parts.join(" | "))
}

/// The first grant in `grants` that allows `request` with its obligations, or every grant's
/// violations.
pub fn grants_allow<'g>(grants: &'g [Grant], request: &Request) -> Result<Allowed<'g>, Denied> {
    let mut reasons = Vec::with_capacity(grants.len());
    for (index, grant) in grants.iter().enumerate() {
        match grant.evaluate(request).into_result() {
            Ok(obligations) => {
                return Ok(Allowed {
                    index,
                    grant,
                    obligations,
                });
            }
            Err(violations) => reasons.push((index, violations)),
        }
    }
    Err(Denied(reasons))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn grant(v: Value) -> Grant {
        Grant::from_json_value(&v).unwrap()
    }
    fn full() -> Grant {
        grant(json!({ "action": "payments/send",
          "maxAmount": { "value": "50.00", "asset": "USD" },
          "audience": ["did:web:shop.example", "https://merchant.example"],
          "resource": ["https://shop.example/api/"],
          "validFrom": "2026-01-01T00:00:00Z", "validUntil": "2026-12-31T23:59:59Z",
          "budget": { "value": "200.00", "asset": "USD", "periodSeconds": 86400 },
          "rate": { "count": 10, "periodSeconds": 60 } }))
    }
    fn act(s: &str) -> Action {
        Action::parse(s).unwrap()
    }
    fn amt(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }
    fn usd() -> Asset {
        Asset::parse("USD").unwrap()
    }
    fn ok_request() -> Request {
        Request::new(
            act("payments/send"),
            Timestamp::from(datetime!(2026-06-01 12:00:00 UTC)),
        )
        .with_amount(amt("50"), usd())
        .with_audience("did:web:shop.example")
        .with_resource("https://shop.example/api/pay")
    }
    fn codes(e: &GrantEvaluation) -> Vec<&'static str> {
        e.violations.iter().map(Violation::code).collect()
    }

    #[test]
    fn allows_and_lists_obligations() {
        let e = full().evaluate(&ok_request());
        assert!(e.is_allowed(), "{:?}", e.violations);
        assert_eq!(
            e.obligations,
            vec![
                Obligation::Budget {
                    charge: Money::new(amt("50"), usd()),
                    limit: Money::new(amt("200.00"), usd()),
                    period_seconds: 86400
                },
                Obligation::Rate {
                    count: 10,
                    period_seconds: 60
                },
            ]
        );
        assert_eq!(
            e.obligations[0].to_string(),
            "charge 50 USD against a budget of 200.00 USD per 86400 s"
        );
        // A sub-action is covered; the window is inclusive.
        let mut r = ok_request();
        r.action = act("payments/send/batch");
        r.time = Timestamp::from(datetime!(2026-12-31 23:59:59 UTC));
        assert!(full().allows(&r));
        r.time = Timestamp::from(datetime!(2026-01-01 00:00:00 UTC));
        assert!(full().allows(&r));
    }

    #[test]
    fn lists_every_violation() {
        let r = Request::new(
            act("payments/refund"),
            Timestamp::from(datetime!(2027-01-01 00:00:00 UTC)),
        );
        let e = full().evaluate(&r);
        assert_eq!(
            codes(&e),
            vec![
                "action_not_covered",
                "amount_missing",
                "amount_missing",
                "audience_missing",
                "resource_missing",
                "grant_expired"
            ]
        );
        assert_eq!(
            e.obligations,
            vec![Obligation::Rate {
                count: 10,
                period_seconds: 60
            }]
        );

        let r = Request::new(
            act("paymentsx"),
            Timestamp::from(datetime!(2025-01-01 00:00:00 UTC)),
        )
        .with_amount(amt("75.00"), usd())
        .with_audience("did:web:evil.example")
        .with_resource("https://shop.example/apix");
        let e = full().evaluate(&r);
        assert_eq!(
            codes(&e),
            vec![
                "action_not_covered",
                "amount_exceeds_ceiling",
                "audience_not_allowed",
                "resource_not_allowed",
                "grant_not_yet_valid"
            ]
        );
        let msgs: Vec<String> = e.violations.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs[0],
            "action `paymentsx` is not covered by the granted action `payments/send`"
        );
        assert_eq!(msgs[1], "amount 75.00 USD exceeds the ceiling 50.00 USD");
        assert_eq!(
            msgs[2],
            "audience `did:web:evil.example` is not in the allow-list [did:web:shop.example, https://merchant.example]"
        );
        assert_eq!(
            msgs[3],
            "resource `https://shop.example/apix` is not under any allowed prefix [https://shop.example/api/]"
        );
        assert_eq!(
            msgs[4],
            "the grant is not valid before 2026-01-01T00:00:00Z (request time 2025-01-01T00:00:00Z)"
        );
    }

    #[test]
    fn assets_and_budgets() {
        let eur = Asset::parse("EUR").unwrap();
        let r = ok_request().with_amount(amt("5"), eur);
        let e = full().evaluate(&r);
        assert_eq!(codes(&e), vec!["asset_mismatch", "asset_mismatch"]);
        assert_eq!(
            e.violations[0].to_string(),
            "request asset EUR does not match the maxAmount asset USD"
        );

        let g = grant(
            json!({"action": "*", "budget": {"value": "200", "asset": "USD", "periodSeconds": 60}}),
        );
        let e = g.evaluate(&ok_request().with_amount(amt("200.01"), usd()));
        assert_eq!(codes(&e), vec!["amount_exceeds_budget"]);
        assert_eq!(
            e.violations[0].to_string(),
            "amount 200.01 USD exceeds the whole budget 200 USD per 60 s"
        );
        let e = g.evaluate(&Request::new(
            act("x"),
            Timestamp::from(datetime!(2026-01-01 00:00:00 UTC)),
        ));
        assert_eq!(codes(&e), vec!["amount_missing"]);
        assert_eq!(
            e.violations[0].to_string(),
            "the grant's budget requires an amount in USD, but the request has none"
        );
    }

    #[test]
    fn unknown_constraints_deny() {
        let g = grant(json!({"action": "*", "geo": ["EU"], "zz": 1}));
        let e = g.evaluate(&ok_request());
        assert_eq!(codes(&e), vec!["unknown_constraint", "unknown_constraint"]);
        assert_eq!(
            e.violations[0].to_string(),
            "unknown constraint `geo` (fail closed)"
        );
    }

    #[test]
    fn first_allowing_grant() {
        let grants = vec![
            grant(json!({"action": "data/read"})),
            grant(json!({"action": "payments", "rate": {"count": 1, "periodSeconds": 1}})),
            grant(json!({"action": "*"})),
        ];
        let allowed = grants_allow(&grants, &ok_request()).unwrap();
        assert_eq!(allowed.index, 1);
        assert_eq!(allowed.obligations.len(), 1);
        let denied = grants_allow(&grants[..1], &ok_request()).unwrap_err();
        assert_eq!(denied.0.len(), 1);
        assert_eq!(denied.0[0].1[0].code(), "action_not_covered");
        assert!(
            denied
                .to_string()
                .starts_with("no grant allows the request (grant 0: action")
        );
        assert!(grants_allow(&[], &ok_request()).unwrap_err().0.is_empty());
    }

    #[test]
    fn obligation_strength() {
        let b = |v: &str, p: u64| Obligation::Budget {
            charge: Money::new(amt("1"), usd()),
            limit: Money::new(amt(v), usd()),
            period_seconds: p,
        };
        assert!(b("10", 120).is_at_least_as_strict_as(&b("10.0", 60)));
        assert!(!b("10", 90).is_at_least_as_strict_as(&b("10", 60)));
        assert!(!b("11", 60).is_at_least_as_strict_as(&b("10", 60)));
        let r = |c: u64, p: u64| Obligation::Rate {
            count: c,
            period_seconds: p,
        };
        assert!(r(5, 3600).is_at_least_as_strict_as(&r(10, 60)));
        assert!(!r(5, 30).is_at_least_as_strict_as(&r(10, 60)));
        assert!(!r(5, 60).is_at_least_as_strict_as(&b("1", 60)));
    }

    #[test]
    fn request_json() {
        let r = ok_request();
        let v = r.to_json_value();
        assert_eq!(
            v,
            json!({"action": "payments/send", "amount": {"value": "50", "asset": "USD"},
                   "audience": "did:web:shop.example", "resource": "https://shop.example/api/pay",
                   "time": "2026-06-01T12:00:00Z"})
        );
        let back: Request = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        assert!(Request::from_json_value(&json!({"action": "a"})).is_err());
        assert!(matches!(
            Request::from_json_value(&json!({"action": "a", "time": "2026-01-01T00:00:00z"})),
            Err(GrantError::DateTime { field, .. }) if field == "time"
        ));
        assert!(
            Request::from_json_value(
                &json!({"action": "a", "time": "2026-01-01T00:00:00Z", "x": 1})
            )
            .is_err()
        );
    }
}

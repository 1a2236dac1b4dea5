//! Property: for random chains and requests, a decision of allow implies that every link's
//! grants allow the request (and, conversely, when every link allows and every link is
//! valid at the request time, the decision allows).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_arguments
)]

mod common;

use common::verify_chain;
use common::*;
use kya_core::credential::{self, VerifiedCredential};
use kya_core::grant::{Grant, Request, grants_allow};
use kya_core::{Did, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

const AUDIENCES: [&str; 3] = [
    "did:web:shop.example",
    "did:web:books.example",
    "did:web:other.example",
];
const ACTIONS: [&str; 5] = [
    "payments",
    "payments/send",
    "payments/send/card",
    "catalog/read",
    "payments/refund",
];

/// One grant's knobs.
#[derive(Debug, Clone)]
struct G {
    action: usize,
    amount: Option<u32>,
    asset_eur: bool,
    audience: u8,
}

fn g() -> impl Strategy<Value = G> {
    (
        0..ACTIONS.len(),
        proptest::option::of(1u32..20_000),
        any::<bool>(),
        0u8..8,
    )
        .prop_map(|(action, amount, asset_eur, audience)| G {
            action,
            amount,
            asset_eur: asset_eur && amount.is_some(),
            audience,
        })
}

fn to_json(g: &G) -> Value {
    let mut v = json!({"action": ACTIONS[g.action]});
    if let Some(a) = g.amount {
        v["maxAmount"] = json!({"value": format!("{}.{:02}", a / 100, a % 100), "asset": if g.asset_eur { "EUR" } else { "USD" }});
    }
    let aud: Vec<&str> = (0..3)
        .filter(|i| g.audience & (1 << i) != 0)
        .map(|i| AUDIENCES[i])
        .collect();
    if !aud.is_empty() {
        v["audience"] = json!(aud);
    }
    v
}

/// Narrows `parent` by `n` (mostly), so that many random chains verify.
fn narrow(parent: &G, n: &G, widen: bool) -> G {
    if widen {
        return n.clone();
    }
    let action = match (ACTIONS[parent.action], n.action % 2) {
        ("payments", 1) => 1,
        ("payments/send", 1) => 2,
        _ => parent.action,
    };
    let amount = match (parent.amount, n.amount) {
        (Some(p), Some(c)) => Some(c.min(p)),
        (Some(p), None) => Some(p),
        (None, c) => c,
    };
    let asset_eur = if parent.amount.is_some() {
        parent.asset_eur
    } else {
        n.asset_eur && amount.is_some()
    };
    let audience = if parent.audience == 0 {
        n.audience
    } else if parent.audience & n.audience == 0 {
        parent.audience
    } else {
        parent.audience & n.audience
    };
    G {
        action,
        amount,
        asset_eur,
        audience,
    }
}

fn signed(
    kind: &str,
    issuer: &str,
    subject: &str,
    grants: &[G],
    parent: Option<&VerifiedCredential>,
    until: &str,
    signer: &kya_core::SecretKey,
    n: usize,
) -> VerifiedCredential {
    let mut doc = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/kya/v1"],
        "id": format!("urn:uuid:00000000-0000-4000-8000-{n:012}"),
        "type": ["VerifiableCredential", kind],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": until,
        "credentialSubject": {"id": subject, "grants": grants.iter().map(to_json).collect::<Vec<_>>()},
    });
    if let Some(p) = parent {
        doc["parentCredential"] =
            json!({"id": p.id(), "digestMultibase": p.digest().to_multibase()});
    }
    credential::sign(doc, signer, t0()).unwrap()
}

type Req = (
    usize,
    Option<(u32, bool)>,
    Option<usize>,
    u32,
    Option<(usize, u32)>,
);

/// A random request, or (`Some((grant, per-mille))`) one aimed inside a leaf grant.
fn request_strategy() -> impl Strategy<Value = Req> {
    (
        0..ACTIONS.len(),
        proptest::option::of((0u32..25_000, any::<bool>())),
        proptest::option::of(0..AUDIENCES.len()),
        0u32..400,
        proptest::option::of((0usize..4, 0u32..1200)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn allow_implies_every_link_allows(
        root in proptest::collection::vec(g(), 1..3),
        children in proptest::collection::vec((proptest::collection::vec((g(), 0usize..4), 1..3), any::<bool>(), 0u32..300), 0..3),
        requests in proptest::collection::vec(request_strategy(), 1..6),
    ) {
        // Build the chain.
        let p = principal();
        let mut links = vec![signed("AgentAuthorization", &did(&p).to_string(), &did(&agent(0)).to_string(), &root, None, "2027-01-01T00:00:00Z", &p, 1)];
        let mut grants: Vec<Vec<G>> = vec![root.clone()];
        for (i, (child, widen, days)) in children.iter().enumerate() {
            let parent_grants = grants.last().unwrap().clone();
            let gs: Vec<G> = child.iter().map(|(n, pick)| narrow(&parent_grants[pick % parent_grants.len()], n, *widen && n.action == 0)).collect();
            let until = Timestamp::from_unix(t0().unix() + 86_400 * i64::from(*days + 1)).unwrap().to_string();
            let l = signed("AgentDelegation", &did(&agent(i)).to_string(), &did(&agent(i + 1)).to_string(), &gs, links.last(), &until, &agent(i), i + 2);
            links.push(l);
            grants.push(gs);
        }
        let bytes = bytes(&docs(&links));
        let policy = kya_verify::Policy::builder().trust_root(Did::Key(did(&p))).build();
        let clock = kya_verify::FixedClock::new(t0().add_seconds(3600));
        let Ok(agent) = verify_chain(&bytes, &policy, &clock, None) else {
            return Ok(()); // a widened or outlived chain: refused, nothing to decide
        };
        for (action, amount, audience, day, aim) in requests {
            let (action, amount, audience, day) = match aim {
                Some((k, permille)) => {
                    let leaf = grants.last().unwrap();
                    let g = &leaf[k % leaf.len()];
                    let amount = g.amount.map(|a| (a * permille / 1000, g.asset_eur)).or(amount);
                    let audience = (0..3).find(|i| g.audience & (1 << i) != 0).or(audience);
                    (g.action, amount, audience, day % 40)
                }
                None => (action, amount, audience, day),
            };
            let time = t0().add_seconds(i64::from(day) * 86_400);
            let mut r = json!({"action": ACTIONS[action], "time": time.to_string()});
            if let Some((a, eur)) = amount {
                r["amount"] = json!({"value": format!("{}.{:02}", a / 100, a % 100), "asset": if eur { "EUR" } else { "USD" }});
            }
            if let Some(a) = audience {
                r["audience"] = json!(AUDIENCES[a]);
            }
            let request = Request::from_json_value(&r).unwrap();
            let decision = agent.decide(&request, time);
            let every_link_allows = agent.chain().iter().all(|l| grants_allow(l.grants(), &request).is_ok());
            let every_link_valid = agent.chain().iter().all(|l| l.valid_from() <= time && time <= l.valid_until());
            if decision.is_allowed() {
                prop_assert!(every_link_allows, "{}", decision.explain());
                prop_assert!(every_link_valid, "{}", decision.explain());
                for l in agent.chain() {
                    let gs: &[Grant] = l.grants();
                    prop_assert!(gs.iter().any(|g| g.allows(&request)));
                }
            } else {
                prop_assert!(!decision.reasons().is_empty());
                prop_assert!(!(every_link_allows && every_link_valid), "{}", decision.explain());
            }
        }
    }
}

//! Decisions: every reason, explanations, and ledger obligations applied all or nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;
use kya_core::Did;
use kya_core::credential::{AgentAuthorization, AgentDelegation};
use kya_verify::MemoryLedger;

fn req(amount: &str, audience: &str) -> kya_core::grant::Request {
    request(&format!(
        r#"{{"action": "payments/send", "amount": {{"value": "{amount}", "asset": "USD"}},
            "audience": "{audience}", "time": "2026-02-01T12:00:00Z"}}"#
    ))
}

#[test]
fn every_reason_is_listed_with_link_and_grant() {
    let agent = verify_chain(&bytes(&docs(&chain(3))), &policy(), &clock(), None).unwrap();
    let d = agent.decide(&req("150.00", "did:web:evil.example"), now());
    assert!(!d.is_allowed());
    // Each of the 3 links: over its ceiling and the wrong audience.
    assert_eq!(d.reasons().len(), 6, "{}", d.explain());
    assert_eq!(
        d.codes(),
        ["amount_exceeds_ceiling", "audience_not_allowed"]
    );
    for r in d.reasons() {
        assert_eq!(r.grant, Some(0));
    }
    let text = d.explain();
    assert!(text.starts_with("DENY: agent did:key:"), "{text}");
    assert!(text.contains("[2] AgentDelegation"), "{text}");
    assert!(text.contains("amount_exceeds_ceiling: credential [0] grant 0: amount 150.00 USD exceeds the ceiling 100.00 USD"), "{text}");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["reasons"][0]["code"], "amount_exceeds_ceiling");
    assert_eq!(json["links"].as_array().unwrap().len(), 3);
    let ok = agent.decide(&req("5.00", "did:web:shop.example"), now());
    assert!(ok.is_allowed(), "{}", ok.explain());
    assert!(ok.explain().starts_with("ALLOW"));
}

#[test]
fn a_parent_budget_is_shared_and_charges_are_atomic() {
    let p = principal();
    let root = AgentAuthorization::builder(Did::Key(did(&p)), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(r#"{"action": "payments", "budget": {"value": "30.00", "asset": "USD", "periodSeconds": 86400}}"#))
        .sign(&p, t0())
        .unwrap();
    let child = |sub: usize, id: &str| {
        AgentDelegation::builder(&root, did(&agent(sub)))
            .unwrap()
            .id(id)
            .grant(grant(r#"{"action": "payments/send", "budget": {"value": "20.00", "asset": "USD", "periodSeconds": 86400}, "rate": {"count": 5, "periodSeconds": 60}}"#))
            .sign(&agent(0), t0())
            .unwrap()
    };
    let a = child(1, "urn:uuid:00000000-0000-4000-8000-0000000000a1");
    let b = child(2, "urn:uuid:00000000-0000-4000-8000-0000000000b1");
    let va = verify_chain(&bytes(&docs(&[root.clone(), a])), &policy(), &clock(), None).unwrap();
    let vb = verify_chain(&bytes(&docs(&[root.clone(), b])), &policy(), &clock(), None).unwrap();
    let ledger = MemoryLedger::default();
    let r = |v: &str| req(v, "did:web:shop.example");
    let first = va.decide_with_ledger(&r("15.00"), now(), &ledger).unwrap();
    assert!(first.is_allowed());
    assert_eq!(
        first.obligations().len(),
        3,
        "root budget, leaf budget, leaf rate"
    );
    assert!(
        vb.decide_with_ledger(&r("15.00"), now(), &ledger)
            .unwrap()
            .is_allowed()
    );
    // The root's 30.00 is spent: sibling A's own budget (20) has room, but nothing is charged.
    let d = va.decide_with_ledger(&r("1.00"), now(), &ledger).unwrap();
    assert_eq!(d.codes(), ["budget_exhausted"], "{}", d.explain());
    assert_eq!(d.reasons()[0].link, Some(0));
    let leaf_key = kya_verify::LedgerKey {
        credential: va.chain()[1].digest(),
        grant: 0,
        kind: "budget",
    };
    assert_eq!(
        ledger.spent(&leaf_key, 86_400, now()).unwrap().to_string(),
        "15.00"
    );
    // The next day the windows reset.
    let tomorrow = now().add_seconds(86_400);
    let mut next = r("1.00");
    next.time = tomorrow;
    assert!(
        va.decide_with_ledger(&next, tomorrow, &ledger)
            .unwrap()
            .is_allowed()
    );
}

#[test]
fn rates_are_enforced() {
    let p = principal();
    let root = AgentAuthorization::builder(Did::Key(did(&p)), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(
            r#"{"action": "catalog", "rate": {"count": 2, "periodSeconds": 60}}"#,
        ))
        .sign(&p, t0())
        .unwrap();
    let v = verify_chain(&bytes(&docs(&[root])), &policy(), &clock(), None).unwrap();
    let ledger = MemoryLedger::default();
    let r = request(r#"{"action": "catalog/read", "time": "2026-02-01T12:00:00Z"}"#);
    assert!(
        v.decide_with_ledger(&r, now(), &ledger)
            .unwrap()
            .is_allowed()
    );
    assert!(
        v.decide_with_ledger(&r, now(), &ledger)
            .unwrap()
            .is_allowed()
    );
    assert_eq!(
        v.decide_with_ledger(&r, now(), &ledger).unwrap().codes(),
        ["rate_limited"]
    );
}

/// What a request that did not happen after all (a payment that did not settle) gives back:
/// exactly its budget charges, in the window it was charged in, once per call; its rate
/// events stay; a denied decision and a closed window give back nothing.
#[test]
fn a_refund_gives_back_the_budgets_a_decision_charged_and_nothing_else() {
    let p = principal();
    let root = AgentAuthorization::builder(Did::Key(did(&p)), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(r#"{"action": "payments", "budget": {"value": "30.00", "asset": "USD", "periodSeconds": 86400}, "rate": {"count": 3, "periodSeconds": 3600}}"#))
        .sign(&p, t0())
        .unwrap();
    let clock = std::sync::Arc::new(clock());
    let verifier = kya_verify::Verifier::new(policy())
        .with_clock(clock.clone())
        .with_ledger(std::sync::Arc::new(MemoryLedger::default()));
    let agent = verifier.verify_chain(&bytes(&docs(&[root]))).unwrap();
    let r = |v: &str| req(v, "did:web:shop.example");
    let decide = |v: &str| verifier.decide(&agent, &r(v)).unwrap();

    let paid = decide("20.00");
    assert!(paid.is_allowed(), "{}", paid.explain());
    let over = decide("20.00");
    assert_eq!(over.codes(), ["budget_exhausted"], "{}", over.explain());
    // A denied decision charged nothing and gives back nothing.
    verifier.refund(&over).unwrap();
    assert_eq!(decide("20.00").codes(), ["budget_exhausted"]);

    // The 20.00 that did not happen comes back: 20.00 fits again (the second rate event).
    verifier.refund(&paid).unwrap();
    let again = decide("20.00");
    assert!(again.is_allowed(), "{}", again.explain());
    // Rates keep every request that was made: the third and last of the hour is 5.00, and
    // giving it back leaves the hour's count at its limit.
    let last = decide("5.00");
    assert!(last.is_allowed(), "{}", last.explain());
    verifier.refund(&last).unwrap();
    assert_eq!(decide("1.00").codes(), ["rate_limited"]);

    // Tomorrow, giving back yesterday's charge leaves the new window alone.
    clock.advance(86_400);
    let mut tomorrow = r("30.00");
    tomorrow.time = now().add_seconds(86_400);
    let full = verifier.decide(&agent, &tomorrow).unwrap();
    assert!(full.is_allowed(), "{}", full.explain());
    verifier.refund(&again).unwrap();
    let mut more = r("0.01");
    more.time = tomorrow.time;
    assert_eq!(
        verifier.decide(&agent, &more).unwrap().codes(),
        ["budget_exhausted"]
    );
}

/// A grant's window holds at the verifier's now, whatever time the request names: a caller
/// that passes the time an agent claims (the request's JSON form carries one, and the Python
/// and JavaScript `decide` take it) cannot revive an expired grant or start one early.
#[test]
fn a_grant_window_holds_now_whatever_time_the_request_names() {
    // now() is 2026-02-01T12:00:00Z; the credential runs to 2027.
    let verifier = kya_verify::Verifier::new(policy()).with_clock(std::sync::Arc::new(clock()));
    let decide_at = |window: &str, time: &str| {
        let g = grant(&format!(r#"{{"action": "payments", {window}}}"#));
        let c = AgentAuthorization::builder(Did::Key(did(&principal())), did(&agent(0)))
            .valid_from(t0())
            .valid_until(t("2027-01-01T00:00:00Z"))
            .grant(g)
            .sign(&principal(), t0())
            .unwrap();
        let a = verifier.verify_chain(&bytes(&docs(&[c]))).unwrap();
        let r = request(&format!(
            r#"{{"action": "payments/send", "time": "{time}"}}"#
        ));
        verifier.decide(&a, &r).unwrap()
    };
    let ended = r#""validUntil": "2026-01-15T00:00:00Z""#;
    assert_eq!(
        decide_at(ended, &now().to_string()).codes(),
        ["grant_expired"]
    );
    let d = decide_at(ended, "2026-01-10T00:00:00Z");
    assert_eq!(d.codes(), ["grant_expired"], "{}", d.explain());
    assert!(
        d.explain().contains("2026-02-01T12:00:00Z"),
        "{}",
        d.explain()
    );
    let later = r#""validFrom": "2026-03-01T00:00:00Z""#;
    assert_eq!(
        decide_at(later, "2026-03-02T00:00:00Z").codes(),
        ["grant_not_yet_valid"]
    );
    // Within the skew of now, and the window holding at the request's time: allowed.
    let open = r#""validFrom": "2026-01-01T00:00:00Z", "validUntil": "2026-03-01T00:00:00Z""#;
    assert!(decide_at(open, &now().to_string()).is_allowed());
    let edge = r#""validUntil": "2026-02-01T11:59:30Z""#;
    assert!(
        decide_at(edge, "2026-02-01T11:59:00Z").is_allowed(),
        "within the skew of now"
    );
}

fn req_of(amount: &str) -> kya_core::grant::Request {
    request(&format!(
        r#"{{"action": "payments/send", "amount": {{"value": "{amount}", "asset": "USD"}},
            "audience": "did:web:shop.example", "time": "2026-02-01T12:00:00Z"}}"#
    ))
}

/// A parent's 100.00 USD a day shared by two siblings: one of them (hostile, or a thief of
/// its key) cannot lock the budget for the other by charging an amount so precise that no
/// later sum fits the ledger's digits (10⁻³⁸, or 1 written with 36 trailing zeros): a charge
/// with more than 18 decimals is refused as too precise, and the sibling spends its share.
#[test]
fn a_sibling_cannot_lock_a_shared_budget_with_a_tiny_charge() {
    let budget = r#""budget": {"value": "100.00", "asset": "USD", "periodSeconds": 86400}"#;
    let root = AgentAuthorization::builder(Did::Key(did(&principal())), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(&format!(r#"{{"action": "payments", {budget}}}"#)))
        .sign(&principal(), t0())
        .unwrap();
    let sibling = |sub: usize| {
        let link = AgentDelegation::builder(&root, did(&agent(sub)))
            .unwrap()
            .grant(grant(&format!(
                r#"{{"action": "payments/send", {budget}}}"#
            )))
            .sign(&agent(0), t0())
            .unwrap();
        verify_chain(
            &bytes(&docs(&[root.clone(), link])),
            &policy(),
            &clock(),
            None,
        )
        .unwrap()
    };
    let (hostile, honest) = (sibling(1), sibling(2));
    let ledger = MemoryLedger::default();
    for precise in [
        format!("0.{}1", "0".repeat(37)),
        format!("1.{}", "0".repeat(36)),
    ] {
        let d = hostile
            .decide_with_ledger(&req_of(&precise), now(), &ledger)
            .unwrap();
        assert_eq!(d.codes(), ["amount_too_precise"], "{}", d.explain());
    }
    // The most precise charge a budget counts (18 decimals) is allowed, and leaves room for
    // every other charge up to the budget.
    let finest = format!("0.{}1", "0".repeat(17));
    assert!(
        hostile
            .decide_with_ledger(&req_of(&finest), now(), &ledger)
            .unwrap()
            .is_allowed()
    );
    let d = honest
        .decide_with_ledger(&req_of("99.00"), now(), &ledger)
        .unwrap();
    assert!(d.is_allowed(), "{}", d.explain());
    let d = honest
        .decide_with_ledger(&req_of("1.00"), now(), &ledger)
        .unwrap();
    assert_eq!(d.codes(), ["budget_exhausted"], "{}", d.explain());
}

/// One principal's sub-agents, each delegated fresh counters that stay open for a century
/// (a period any multiple of the parent's is sound narrowing), fill only their principal's
/// share of the in-memory ledger (`kya serve`'s default): another principal's first charge
/// is still counted. (Capacity 8, a share of 2, stands in for 100 000 and 25 000.)
#[test]
fn one_principals_sub_agents_fill_only_its_share_of_the_ledger() {
    let ledger = MemoryLedger::new(8);
    let root = AgentAuthorization::builder(Did::Key(did(&principal())), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(r#"{"action": "payments"}"#))
        .sign(&principal(), t0())
        .unwrap();
    let century =
        r#"{"action": "payments/send", "rate": {"count": 1, "periodSeconds": 3155760000}}"#;
    for sub in 1..=3 {
        let link = AgentDelegation::builder(&root, did(&agent(sub)))
            .unwrap()
            .grant(grant(century))
            .sign(&agent(0), t0())
            .unwrap();
        let v = verify_chain(
            &bytes(&docs(&[root.clone(), link])),
            &policy(),
            &clock(),
            None,
        )
        .unwrap();
        let d = v
            .decide_with_ledger(&req_of("1.00"), now(), &ledger)
            .unwrap();
        let expected: &[&str] = if sub <= 2 { &[] } else { &["ledger_full"] };
        assert_eq!(d.codes(), expected, "sub-agent {sub}: {}", d.explain());
    }
    let other = agent(7);
    let their_root = AgentAuthorization::builder(Did::Key(did(&other)), did(&agent(8)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(
            r#"{"action": "payments", "rate": {"count": 10, "periodSeconds": 60}}"#,
        ))
        .sign(&other, t0())
        .unwrap();
    let both = kya_verify::Policy::builder()
        .trust_root(Did::Key(did(&other)))
        .audience("did:web:shop.example")
        .build();
    let theirs = verify_chain(&bytes(&docs(&[their_root])), &both, &clock(), None).unwrap();
    let d = theirs
        .decide_with_ledger(&req_of("1.00"), now().add_seconds(120), &ledger)
        .unwrap();
    assert!(d.is_allowed(), "{}", d.explain());
}

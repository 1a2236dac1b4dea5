//! Structure-aware attenuation laws over generated grants and requests.
//!
//! Asserts, for grants a, b, c and request r over a small shared vocabulary:
//! - `attenuates` is `Ok` iff `widenings` is empty;
//! - reflexive (a ⊑ a) and transitive (a ⊑ b ∧ b ⊑ c ⇒ a ⊑ c);
//! - soundness: a ⊑ b ∧ a allows r ⇒ b allows r (a child never allows what its parent
//!   denies), and every obligation of b is implied by one of a's (budgets/rates only narrow);
//! - sets: GrantSet(children).attenuates(parents) ∧ children allow r ⇒ parents allow r;
//! - JSON round trip of every generated grant.
#![no_main]
use arbitrary::Unstructured;
use kya_core::grant::{Grant, GrantSet, grants_allow};
use kya_fuzz::{arb_grant, arb_narrowing, arb_request};
use libfuzzer_sys::fuzz_target;

fn check_pair(child: &Grant, parent: &Grant, r: &kya_core::grant::Request) {
    let w = child.widenings(parent);
    assert_eq!(w.is_empty(), child.attenuates(parent).is_ok());
    if !w.is_empty() {
        return;
    }
    let ce = child.evaluate(r);
    if !ce.is_allowed() {
        return;
    }
    let pe = parent.evaluate(r);
    assert!(
        pe.is_allowed(),
        "child {} attenuates parent {} and allows {} but the parent denies: {:?}",
        child.to_json_value(),
        parent.to_json_value(),
        r.to_json_value(),
        pe.violations
    );
    for po in &pe.obligations {
        assert!(
            ce.obligations
                .iter()
                .any(|co| co.is_at_least_as_strict_as(po)),
            "parent obligation {po} not implied by the child's {:?}",
            ce.obligations
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(c) = arb_grant(&mut u) else { return };
    let Ok(b) = arb_narrowing(&mut u, &c).or_else(|_| arb_grant(&mut u)) else {
        return;
    };
    let Ok(a) = arb_narrowing(&mut u, &b).or_else(|_| arb_grant(&mut u)) else {
        return;
    };
    let Ok(r) = arb_request(&mut u) else { return };
    for g in [&a, &b, &c] {
        assert_eq!(
            &Grant::from_json_value(&g.to_json_value()).expect("round trip"),
            g
        );
        assert!(g.attenuates(g).is_ok(), "reflexive");
    }
    if a.attenuates(&b).is_ok() && b.attenuates(&c).is_ok() {
        assert!(
            a.attenuates(&c).is_ok(),
            "not transitive: {} ⊑ {} ⊑ {} but {:?}",
            a.to_json_value(),
            b.to_json_value(),
            c.to_json_value(),
            a.widenings(&c)
        );
    }
    check_pair(&a, &b, &r);
    check_pair(&b, &c, &r);
    check_pair(&a, &c, &r);
    let children = [a.clone(), b.clone()];
    let parents = [c.clone(), b.clone()];
    if GrantSet(&children).attenuates(&parents).is_ok() && grants_allow(&children, &r).is_ok() {
        assert!(
            grants_allow(&parents, &r).is_ok(),
            "grant sets: child allows, parents deny"
        );
    }
});

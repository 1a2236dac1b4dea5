//! Property laws of grants: attenuation is a sound partial order, serialisation round-trips,
//! parsers never panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};

use kya_core::Timestamp;
use kya_core::grant::{Action, Amount, Asset, Grant, GrantSet, Obligation, Request, grants_allow};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use time::{OffsetDateTime, macros::datetime};

const ACTIONS: &[&str] = &[
    "*",
    "payments",
    "payments/send",
    "payments/refund",
    "data",
    "data/read",
    "data/read/private",
];
const EXTRA_ACTIONS: &[&str] = &["payments/send/batch", "paymentsx", "admin", "data/write"];
const ASSETS: &[&str] = &[
    "USD",
    "EUR",
    "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
];
const AUDIENCES: &[&str] = &[
    "did:web:a.example",
    "did:web:b.example",
    "https://c.example",
];
const PREFIXES: &[&str] = &[
    "https://shop.example/api",
    "https://shop.example/api/",
    "https://shop.example/api/v1",
    "https://shop.example/apix",
    "https://other.example/",
    "https://shop.example/api?x=1",
];
const RESOURCES: &[&str] = &[
    "https://shop.example/api/v1/items",
    "https://shop.example/apix/1",
    "https://other.example/a",
    "https://shop.example/api#frag",
    "https://shop.example/",
    "https://other.example",
];
const EXTENSIONS: &[&str] = &["", "/", "/v2", "?q=1", "#top", "v2"];
const PERIODS: &[u64] = &[30, 60, 90, 120, 180, 3600];
const UNKNOWN_KEYS: &[&str] = &["geo", "kyc", "x-ext"];
const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

/// Turns a random word stream into choices, so that generators are plain Rust.
struct Picker {
    words: Vec<u32>,
    at: usize,
}

impl Picker {
    fn new(words: Vec<u32>) -> Self {
        Self { words, at: 0 }
    }
    fn next(&mut self) -> u32 {
        let w = self
            .words
            .get(self.at % self.words.len().max(1))
            .copied()
            .unwrap_or(0);
        self.at += 1;
        w.rotate_left((self.at / self.words.len().max(1)) as u32 * 7)
    }
    fn pick(&mut self, n: usize) -> usize {
        (self.next() as usize) % n.max(1)
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < percent
    }
    fn of<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.pick(items.len())].clone()
    }
    fn subset(&mut self, items: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = items
            .iter()
            .filter(|_| self.chance(50))
            .map(|s| (*s).to_owned())
            .collect();
        if out.is_empty() {
            out.push(self.of(items).to_owned());
        }
        out
    }
}

fn words() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), 48)
}

fn act(s: &str) -> Action {
    Action::parse(s).unwrap()
}

fn amount(p: &mut Picker) -> Amount {
    let scale = p.pick(4) as u8;
    let a = Amount::from_parts(p.pick(20_001) as u128, scale).unwrap();
    if p.chance(15) {
        // Leading zeros: same value, other text.
        Amount::parse(&format!("00{a}")).unwrap()
    } else {
        a
    }
}

fn hours(n: usize) -> i64 {
    3600 * n as i64
}

fn time(p: &mut Picker) -> Timestamp {
    Timestamp::from(T0).add_seconds(hours(p.pick(240)))
}

fn unknown_value(p: &mut Picker) -> Value {
    match p.pick(4) {
        0 => json!("EU"),
        1 => json!(1),
        2 => json!(["a", "b"]),
        _ => json!({"k": true}),
    }
}

fn to_json(g: &Grant) -> Value {
    g.to_json_value()
}

fn from_json(v: Value) -> Grant {
    Grant::from_json_value(&v).unwrap()
}

fn set(v: &mut Value, key: &str, x: Value) {
    v.as_object_mut().unwrap().insert(key.to_owned(), x);
}

fn money_json(value: &Amount, asset: &str) -> Value {
    json!({"value": value.to_string(), "asset": asset})
}

fn budget_json(value: &Amount, asset: &str, period: u64) -> Value {
    json!({"value": value.to_string(), "asset": asset, "periodSeconds": period})
}

fn random_grant(p: &mut Picker) -> Grant {
    let mut v = json!({"action": p.of(ACTIONS)});
    if p.chance(40) {
        let a = amount(p);
        set(&mut v, "maxAmount", money_json(&a, p.of(ASSETS)));
    }
    if p.chance(30) {
        set(&mut v, "audience", json!(p.subset(AUDIENCES)));
    }
    if p.chance(30) {
        set(&mut v, "resource", json!(p.subset(PREFIXES)));
    }
    let from = p.chance(30).then(|| time(p));
    let until = p.chance(30).then(|| time(p));
    let (from, until) = match (from, until) {
        (Some(f), Some(u)) if f > u => (Some(u), Some(f)),
        x => x,
    };
    if let Some(f) = from {
        set(&mut v, "validFrom", json!(rfc3339(f)));
    }
    if let Some(u) = until {
        set(&mut v, "validUntil", json!(rfc3339(u)));
    }
    if p.chance(30) {
        let a = amount(p);
        set(
            &mut v,
            "budget",
            budget_json(&a, p.of(ASSETS), p.of(PERIODS)),
        );
    }
    if p.chance(30) {
        set(
            &mut v,
            "rate",
            json!({"count": 1 + p.pick(10), "periodSeconds": p.of(PERIODS)}),
        );
    }
    if p.chance(10) {
        let k = p.of(UNKNOWN_KEYS);
        set(&mut v, k, unknown_value(p));
    }
    from_json(v)
}

fn rfc3339(t: Timestamp) -> String {
    t.to_xsd().unwrap()
}

/// A value at most `max`, in the same or a finer scale.
fn smaller(max: &Amount, p: &mut Picker) -> Amount {
    let k = p.pick(5) as u128; // 0..=4 quarters
    let a = Amount::from_parts(max.mantissa() * k / 4, max.scale()).unwrap();
    if p.chance(30) && max.scale() < 30 {
        Amount::from_parts(a.mantissa() * 10, a.scale() + 1).unwrap()
    } else {
        a
    }
}

/// A grant derived from `parent` by narrowing every dimension; with `mutate`, one dimension
/// is then replaced at random (which may or may not widen it).
fn narrow(parent: &Grant, p: &mut Picker, mutate: bool) -> Grant {
    let pa = parent.action();
    let covered: Vec<&str> = ACTIONS
        .iter()
        .chain(EXTRA_ACTIONS)
        .copied()
        .filter(|a| pa.covers(&act(a)))
        .collect();
    let mut v = json!({"action": p.of(&covered)});
    match parent.max_amount() {
        Some(m) => set(
            &mut v,
            "maxAmount",
            money_json(&smaller(&m.value, p), m.asset.as_str()),
        ),
        None if p.chance(30) => {
            let a = amount(p);
            set(&mut v, "maxAmount", money_json(&a, p.of(ASSETS)));
        }
        None => {}
    }
    match parent.budget() {
        Some(b) => {
            let value = smaller(&b.limit().value, p);
            let period = b.period_seconds() * (1 + p.pick(3) as u64);
            set(
                &mut v,
                "budget",
                budget_json(&value, b.limit().asset.as_str(), period),
            );
        }
        None if p.chance(20) => {
            let a = amount(p);
            set(
                &mut v,
                "budget",
                budget_json(&a, p.of(ASSETS), p.of(PERIODS)),
            );
        }
        None => {}
    }
    match parent.rate() {
        Some(r) => {
            let count = 1 + p.pick(r.count() as usize) as u64;
            let period = r.period_seconds() * (1 + p.pick(3) as u64);
            set(
                &mut v,
                "rate",
                json!({"count": count, "periodSeconds": period}),
            );
        }
        None if p.chance(20) => {
            set(
                &mut v,
                "rate",
                json!({"count": 1 + p.pick(10), "periodSeconds": p.of(PERIODS)}),
            );
        }
        None => {}
    }
    match parent.audience() {
        Some(a) => {
            let entries: Vec<&str> = a.entries().iter().map(String::as_str).collect();
            set(&mut v, "audience", json!(p.subset(&entries)));
        }
        None if p.chance(30) => set(&mut v, "audience", json!(p.subset(AUDIENCES))),
        None => {}
    }
    match parent.resource() {
        Some(r) => {
            let n = 1 + p.pick(2);
            let mut prefixes = Vec::new();
            for _ in 0..n {
                let base = p.of(r.prefixes());
                let ext = p.of(EXTENSIONS);
                // A bare-segment extension only narrows a prefix that ends with '/'.
                let ext = if ext == "v2" && !base.ends_with('/') {
                    "/v2"
                } else {
                    ext
                };
                prefixes.push(format!("{base}{ext}"));
            }
            set(&mut v, "resource", json!(prefixes));
        }
        None if p.chance(30) => set(&mut v, "resource", json!(p.subset(PREFIXES))),
        None => {}
    }
    let mut from = match parent.valid_from() {
        Some(f) => Some(f.add_seconds(hours(p.pick(48)))),
        None => p.chance(20).then(|| time(p)),
    };
    let mut until = match parent.valid_until() {
        Some(u) => Some(u.add_seconds(-hours(p.pick(48)))),
        None => p.chance(20).then(|| time(p)),
    };
    if let (Some(f), Some(u)) = (from, until) {
        if f > u {
            let inside = parent.valid_from().or(parent.valid_until()).unwrap_or(u);
            (from, until) = (Some(inside), Some(inside));
        }
    }
    if let Some(f) = from {
        set(&mut v, "validFrom", json!(rfc3339(f)));
    }
    if let Some(u) = until {
        set(&mut v, "validUntil", json!(rfc3339(u)));
    }
    for (k, x) in parent.unknown_constraints() {
        set(&mut v, k, x.clone());
    }
    if p.chance(10) {
        let k = p.of(UNKNOWN_KEYS);
        if !parent.unknown_constraints().contains_key(k) {
            set(&mut v, k, unknown_value(p));
        }
    }
    if mutate && p.chance(40) {
        perturb(&mut v, p);
    }
    // Keep the window well-formed after a perturbation.
    if let (Some(Value::String(f)), Some(Value::String(u))) =
        (v.get("validFrom"), v.get("validUntil"))
    {
        if f > u {
            v.as_object_mut().unwrap().remove("validFrom");
        }
    }
    Grant::from_json_value(&v).unwrap_or_else(|e| panic!("{e}: {v}"))
}

/// Changes one dimension of a grant's JSON so that it may widen (or narrow, or drop) it.
fn perturb(v: &mut Value, p: &mut Picker) {
    let obj = v.as_object_mut().unwrap();
    let dims = [
        "action",
        "maxAmount",
        "budget",
        "rate",
        "audience",
        "resource",
        "validFrom",
        "validUntil",
        "unknown",
    ];
    let present: Vec<&str> = dims
        .iter()
        .copied()
        .filter(|d| {
            obj.contains_key(*d)
                || (*d == "unknown" && UNKNOWN_KEYS.iter().any(|k| obj.contains_key(*k)))
        })
        .collect();
    let dim = if p.chance(80) && !present.is_empty() {
        p.of(&present)
    } else {
        p.of(&dims)
    };
    let bump = |s: &str, p: &mut Picker| {
        let a = Amount::parse(s).unwrap();
        let one = Amount::from_parts(1, a.scale()).unwrap();
        if p.chance(50) {
            a.checked_add(&a).unwrap().checked_add(&one).unwrap()
        } else {
            a.checked_sub(&one).unwrap_or(a)
        }
        .to_string()
    };
    let shift = |t: &str, hours: i64| {
        let t: Timestamp = t.parse().unwrap();
        rfc3339(t.add_seconds(3600 * hours))
    };
    if p.chance(20) && dim != "action" {
        obj.remove(dim);
        if dim == "unknown" {
            for k in UNKNOWN_KEYS {
                obj.remove(*k);
            }
        }
        return;
    }
    match dim {
        "action" => {
            let all: Vec<&str> = ACTIONS.iter().chain(EXTRA_ACTIONS).copied().collect();
            obj.insert("action".into(), json!(p.of(&all)));
        }
        "maxAmount" | "budget" => {
            if let Some(m) = obj.get_mut(dim).and_then(Value::as_object_mut) {
                match p.pick(3) {
                    0 => {
                        let bumped = bump(m["value"].as_str().unwrap(), p);
                        m.insert("value".into(), json!(bumped));
                    }
                    1 => {
                        m.insert("asset".into(), json!(p.of(ASSETS)));
                    }
                    _ if dim == "budget" => {
                        m.insert("periodSeconds".into(), json!(p.of(PERIODS)));
                    }
                    _ => {}
                }
            }
        }
        "rate" => {
            if let Some(m) = obj.get_mut("rate").and_then(Value::as_object_mut) {
                if p.chance(50) {
                    let c = m["count"].as_u64().unwrap();
                    m.insert(
                        "count".into(),
                        json!(if p.chance(50) { c + 1 } else { c.max(2) - 1 }),
                    );
                } else {
                    m.insert("periodSeconds".into(), json!(p.of(PERIODS)));
                }
            }
        }
        "audience" => {
            if let Some(a) = obj.get_mut("audience").and_then(Value::as_array_mut) {
                a.push(json!(
                    p.of(&[AUDIENCES, &["did:web:evil.example"]].concat())
                ));
            }
        }
        "resource" => {
            if let Some(a) = obj.get_mut("resource").and_then(Value::as_array_mut) {
                a.push(json!(p.of(&[PREFIXES, RESOURCES].concat())));
            }
        }
        "validFrom" | "validUntil" => {
            let hours = (1 + p.pick(48) as i64) * if p.chance(50) { 1 } else { -1 };
            if let Some(Value::String(t)) = obj.get(dim) {
                let t = shift(t, hours);
                obj.insert(dim.into(), json!(t));
            }
        }
        _ => {
            let k = p.of(UNKNOWN_KEYS);
            obj.insert(k.into(), unknown_value(p));
        }
    }
}

/// A request, usually inside what `g` allows.
fn request_for(g: &Grant, p: &mut Picker) -> Request {
    let guided = p.chance(85);
    let action = if guided {
        if g.action().is_root() {
            act(p.of(ACTIONS
                .iter()
                .chain(EXTRA_ACTIONS)
                .copied()
                .filter(|a| *a != "*")
                .collect::<Vec<_>>()
                .as_slice()))
        } else if p.chance(30) {
            act(&format!("{}/sub", g.action()))
        } else {
            g.action().clone()
        }
    } else {
        act(p.of(ACTIONS
            .iter()
            .chain(EXTRA_ACTIONS)
            .copied()
            .filter(|a| *a != "*")
            .collect::<Vec<_>>()
            .as_slice()))
    };
    let t = match (g.valid_from(), g.valid_until()) {
        (Some(f), Some(u)) if guided => {
            let span = ((u.unix() - f.unix()) / 3600).max(0) as usize;
            f.add_seconds(hours(p.pick(span + 1)))
        }
        (Some(f), None) if guided => f.add_seconds(hours(p.pick(48))),
        (None, Some(u)) if guided => u.add_seconds(-hours(p.pick(48))),
        _ => time(p),
    };
    let mut r = Request::new(action, t);
    let ceiling = g.max_amount().map(|m| (m.value.clone(), m.asset.clone()));
    let budget = g
        .budget()
        .map(|b| (b.limit().value.clone(), b.limit().asset.clone()));
    match ceiling.or(budget) {
        Some((max, asset)) if guided => r = r.with_amount(smaller(&max, p), asset),
        _ if p.chance(50) => {
            let a = amount(p);
            r = r.with_amount(a, Asset::parse(p.of(ASSETS)).unwrap());
        }
        _ => {}
    }
    match g.audience() {
        Some(a) if guided => r = r.with_audience(p.of(a.entries())),
        _ if p.chance(50) => {
            let all = [AUDIENCES, &["did:web:evil.example"]].concat();
            r = r.with_audience(p.of(&all));
        }
        _ => {}
    }
    match g.resource() {
        Some(res) if guided => {
            let base = p.of(res.prefixes());
            let ext = p.of(EXTENSIONS);
            let ext = if ext == "v2" && !base.ends_with('/') {
                "/v2"
            } else {
                ext
            };
            r = r.with_resource(format!("{base}{ext}"));
        }
        _ if p.chance(50) => {
            let all = [PREFIXES, RESOURCES].concat();
            r = r.with_resource(p.of(&all));
        }
        _ => {}
    }
    r
}

fn obligations_no_weaker(child: &[Obligation], parent: &[Obligation]) -> bool {
    parent
        .iter()
        .all(|po| child.iter().any(|co| co.is_at_least_as_strict_as(po)))
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn attenuation_is_reflexive() {
    runner(1000)
        .run(&words(), |w| {
            let g = random_grant(&mut Picker::new(w));
            prop_assert_eq!(g.attenuates(&g), Ok(()));
            Ok(())
        })
        .unwrap();
}

#[test]
fn narrowing_always_attenuates() {
    runner(2000)
        .run(&(words(), words()), |(w1, w2)| {
            let parent = random_grant(&mut Picker::new(w1));
            let child = narrow(&parent, &mut Picker::new(w2), false);
            prop_assert_eq!(
                child.attenuates(&parent),
                Ok(()),
                "parent {} child {}",
                to_json(&parent),
                to_json(&child)
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn attenuation_is_transitive() {
    let (cases, hits) = (2000u32, AtomicUsize::new(0));
    runner(cases)
        .run(&(words(), words(), words()), |(w1, w2, w3)| {
            let c = random_grant(&mut Picker::new(w1));
            let b = narrow(&c, &mut Picker::new(w2), true);
            let a = narrow(&b, &mut Picker::new(w3), true);
            if a.attenuates(&b).is_ok() && b.attenuates(&c).is_ok() {
                hits.fetch_add(1, Ordering::Relaxed);
                prop_assert_eq!(
                    a.attenuates(&c),
                    Ok(()),
                    "a {} b {} c {}",
                    to_json(&a),
                    to_json(&b),
                    to_json(&c)
                );
            }
            Ok(())
        })
        .unwrap();
    let hits = hits.into_inner();
    eprintln!("transitivity premise met in {hits} of {cases} cases");
    assert!(
        hits * 3 >= cases as usize,
        "only {hits} of {cases} cases met the premise"
    );
}

#[test]
fn attenuation_is_antisymmetric_up_to_equivalence() {
    // a ⊑ b ∧ b ⊑ a ⇒ a and b allow the same requests with equally strict obligations.
    let (cases, hits) = (1500u32, AtomicUsize::new(0));
    runner(cases)
        .run(&(words(), words(), words()), |(w1, w2, w3)| {
            let b = random_grant(&mut Picker::new(w1));
            let a = narrow(&b, &mut Picker::new(w2), true);
            if a.attenuates(&b).is_ok() && b.attenuates(&a).is_ok() {
                hits.fetch_add(1, Ordering::Relaxed);
                let r = request_for(&a, &mut Picker::new(w3));
                prop_assert_eq!(a.allows(&r), b.allows(&r));
            }
            Ok(())
        })
        .unwrap();
    assert!(hits.into_inner() > 0);
}

#[test]
fn narrowed_grant_never_allows_what_its_parent_denies() {
    let (cases, premise, allowed) = (6000u32, AtomicUsize::new(0), AtomicUsize::new(0));
    let widened_allowed = AtomicUsize::new(0);
    runner(cases)
        .run(&(words(), words(), words()), |(w1, w2, w3)| {
            let parent = random_grant(&mut Picker::new(w1));
            let child = narrow(&parent, &mut Picker::new(w2), true);
            let r = request_for(&child, &mut Picker::new(w3));
            let ce = child.evaluate(&r);
            let attenuates = child.attenuates(&parent).is_ok();
            if ce.is_allowed() {
                allowed.fetch_add(1, Ordering::Relaxed);
                if !attenuates && !parent.allows(&r) {
                    widened_allowed.fetch_add(1, Ordering::Relaxed);
                }
            }
            if attenuates && ce.is_allowed() {
                premise.fetch_add(1, Ordering::Relaxed);
                let pe = parent.evaluate(&r);
                prop_assert!(
                    pe.is_allowed(),
                    "parent denies {:?}\nparent {}\nchild {}\nrequest {}",
                    pe.violations,
                    to_json(&parent),
                    to_json(&child),
                    r.to_json_value()
                );
                prop_assert!(
                    obligations_no_weaker(&ce.obligations, &pe.obligations),
                    "child obligations {:?} weaker than parent's {:?}",
                    ce.obligations,
                    pe.obligations
                );
            }
            Ok(())
        })
        .unwrap();
    let (premise, allowed, widened) = (
        premise.into_inner(),
        allowed.into_inner(),
        widened_allowed.into_inner(),
    );
    eprintln!(
        "soundness: premise {premise}, child allowed {allowed}, widened child allowed a parent-denied request {widened} of {cases}"
    );
    assert!(
        premise * 5 >= cases as usize,
        "only {premise} of {cases} cases met the premise"
    );
    // The generator also produces widened children that do allow something their parent
    // denies, so the attenuation check is what keeps the law true.
    assert!(
        widened * 50 >= cases as usize,
        "only {widened} widened children allowed a denied request ({allowed} allowed)"
    );
}

#[test]
fn grant_sets_narrow_soundly() {
    let (cases, premise) = (1500u32, AtomicUsize::new(0));
    runner(cases)
        .run(&(words(), words(), words()), |(w1, w2, w3)| {
            let mut p = Picker::new(w1);
            let parents: Vec<Grant> = (0..1 + p.pick(3)).map(|_| random_grant(&mut p)).collect();
            let mut q = Picker::new(w2);
            let children: Vec<Grant> = (0..1 + q.pick(3))
                .map(|_| {
                    let parent = parents[q.pick(parents.len())].clone();
                    narrow(&parent, &mut q, true)
                })
                .collect();
            let mut s = Picker::new(w3);
            let target = &children[s.pick(children.len())];
            let r = request_for(target, &mut s);
            if GrantSet(&children).attenuates(&parents).is_ok() {
                if let Ok(allowed) = grants_allow(&children, &r) {
                    premise.fetch_add(1, Ordering::Relaxed);
                    let by_parent = grants_allow(&parents, &r);
                    prop_assert!(by_parent.is_ok(), "{:?}", by_parent.err());
                    // Some parent grant that the allowing child narrows also allows it,
                    // with obligations no stronger.
                    let ok = parents.iter().any(|pg| {
                        allowed.grant.attenuates(pg).is_ok()
                            && pg
                                .evaluate(&r)
                                .into_result()
                                .is_ok_and(|po| obligations_no_weaker(&allowed.obligations, &po))
                    });
                    prop_assert!(ok);
                }
            }
            Ok(())
        })
        .unwrap();
    let premise = premise.into_inner();
    eprintln!("set soundness premise met in {premise} of {cases} cases");
    assert!(
        premise * 10 >= cases as usize,
        "only {premise} of {cases} cases met the premise"
    );
}

#[test]
fn serde_round_trips() {
    runner(1000)
        .run(&(words(), words()), |(w1, w2)| {
            let mut p = Picker::new(w1);
            let g = narrow(&random_grant(&mut p), &mut Picker::new(w2), true);
            let text = serde_json::to_string(&g).unwrap();
            let back: Grant = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &g);
            prop_assert_eq!(back.to_json_value(), g.to_json_value());
            prop_assert_eq!(back.unknown_constraints(), g.unknown_constraints());
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
            let r = request_for(&g, &mut p);
            let rb: Request = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            prop_assert_eq!(rb, r);
            Ok(())
        })
        .unwrap();
}

proptest! {
    #![proptest_config(Config { cases: 2000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn amount_order_and_sum_match_a_reference(m1 in 0u128..1_000_000_000_000_000_000, s1 in 0u8..=18,
                                             m2 in 0u128..1_000_000_000_000_000_000, s2 in 0u8..=18) {
        let a = Amount::from_parts(m1, s1).unwrap();
        let b = Amount::from_parts(m2, s2).unwrap();
        let scaled = |m: u128, s: u8| m * 10u128.pow(u32::from(18 - s));
        prop_assert_eq!(a.cmp(&b), scaled(m1, s1).cmp(&scaled(m2, s2)));
        prop_assert_eq!(a == b, scaled(m1, s1) == scaled(m2, s2));
        let sum = a.checked_add(&b).unwrap();
        prop_assert_eq!(scaled(sum.mantissa(), sum.scale()), scaled(m1, s1) + scaled(m2, s2));
        let reparsed = Amount::parse(&a.to_string()).unwrap();
        prop_assert_eq!((reparsed.mantissa(), reparsed.scale()), (m1, s1));
        if a >= b {
            let d = a.checked_sub(&b).unwrap();
            prop_assert_eq!(d.checked_add(&b).unwrap(), a);
        } else {
            prop_assert!(a.checked_sub(&b).is_none());
        }
    }

    #[test]
    fn string_parsers_never_panic(s in "[-+*/.:a-zA-Z0-9_%eE ]{0,80}|\\PC{0,40}") {
        let _ = Action::parse(&s);
        let _ = Amount::parse(&s);
        let _ = Asset::parse(&s);
        if let Ok(a) = Amount::parse(&s) {
            prop_assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn no_parsed_action_has_an_empty_or_dot_segment(
        segments in prop::collection::vec(prop_oneof![
            Just(String::new()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            "[a-z0-9._-]{1,4}",
        ], 1..6)
    ) {
        let s = segments.join("/");
        let bad = segments.iter().any(|seg| seg.is_empty() || seg == "." || seg == "..");
        match Action::parse(&s) {
            Ok(a) => {
                prop_assert!(!bad, "{s} parsed");
                prop_assert!(a.segments().all(|seg| !seg.is_empty() && seg != "." && seg != ".."));
                prop_assert_eq!(a.as_str(), s.as_str());
            }
            Err(_) => prop_assert!(bad, "{s} refused"),
        }
    }

    #[test]
    fn grant_parser_never_panics(v in arb_json()) {
        if let Ok(g) = Grant::from_json_value(&v) {
            // Whatever parses re-serialises to the same JSON (modulo date-time spelling).
            let again = Grant::from_json_value(&g.to_json_value()).unwrap();
            prop_assert_eq!(again, g);
        }
        let _ = serde_json::from_value::<Request>(v);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..100).prop_map(Value::from),
        prop::sample::select(vec![
            "payments/send",
            "*",
            "50.00",
            "USD",
            "EUR",
            "eip155:1/erc20:0xab",
            "did:web:a",
            "https://shop.example/api",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00+01:00",
            "",
            "-1",
            "1e3",
            "x",
        ])
        .prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "action",
        "maxAmount",
        "audience",
        "resource",
        "validFrom",
        "validUntil",
        "budget",
        "rate",
        "value",
        "asset",
        "periodSeconds",
        "count",
        "geo",
    ]);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

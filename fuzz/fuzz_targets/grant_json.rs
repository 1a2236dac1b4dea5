//! Grant and request JSON parsing (from strict JSON), round trips and single evaluation.
//!
//! Input: any JSON; every object in it that parses as a grant is a grant, the first that
//! parses as a request is the request (so the vectors' credentials and cases are seeds).
//! Asserts: a parsed grant re-serialises to JSON that parses to an equal grant, and is
//! reflexively an attenuation of itself; a parsed request round-trips; evaluation lists
//! violations iff it denies; `grants_allow` agrees with evaluating grant by grant, and an
//! unknown constraint always denies.
#![no_main]
use kya_core::grant::{Grant, Request, grants_allow};
use kya_core::json::{JsonLimits, parse_strict};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse_strict(data, JsonLimits::default()) else {
        return;
    };
    let mut objects = Vec::new();
    collect_objects(&v, &mut objects);
    let mut grants = Vec::new();
    let mut request = None;
    for gv in objects {
        if request.is_none() {
            if let Ok(r) = Request::from_json_value(gv) {
                request = Some(r);
            }
        }
        let Ok(g) = Grant::from_json_value(gv) else {
            continue;
        };
        let json = g.to_json_value();
        let back = Grant::from_json_value(&json).expect("a grant's own json parses");
        assert_eq!(back, g, "grant json round trip");
        assert_eq!(back.to_json_value(), json);
        let via_serde: Grant = serde_json::from_value(json.clone()).expect("serde path agrees");
        assert_eq!(via_serde, g);
        assert!(
            g.attenuates(&g).is_ok(),
            "attenuation is reflexive: {:?}",
            g.widenings(&g)
        );
        grants.push(g);
    }
    let Some(request) = request else { return };
    let back = Request::from_json_value(&request.to_json_value()).expect("request json parses");
    assert_eq!(back, request);
    let mut first_allowing = None;
    for (i, g) in grants.iter().enumerate() {
        let e = g.evaluate(&request);
        assert_eq!(e.is_allowed(), e.violations.is_empty());
        assert_eq!(g.allows(&request), e.is_allowed());
        if !g.unknown_constraints().is_empty() {
            assert!(!e.is_allowed(), "an unknown constraint must deny");
        }
        if !e.obligations.is_empty() {
            assert!(g.budget().is_some() || g.rate().is_some());
        }
        if e.is_allowed() && first_allowing.is_none() {
            first_allowing = Some(i);
        }
    }
    match grants_allow(&grants, &request) {
        Ok(a) => assert_eq!(Some(a.index), first_allowing),
        Err(d) => {
            assert_eq!(first_allowing, None);
            assert_eq!(d.0.len(), grants.len());
        }
    }
});

fn collect_objects<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    if out.len() >= 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            out.push(v);
            m.values().for_each(|c| collect_objects(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_objects(c, out)),
        _ => {}
    }
}

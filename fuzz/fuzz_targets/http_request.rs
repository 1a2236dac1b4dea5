//! RFC 9421 signed requests (kya_verify::http): the agent of a vector chain signs a request
//! the fuzzer shapes (method, path, query, body, action, amount, window, transport); the
//! fuzzer then may change one thing (a derived component, a header, the body, a signature
//! parameter) before the merchant's gate sees it. Or the gate gets arbitrary bytes cut into
//! a request.
//!
//! Asserts: an untouched, in-window request is never refused as unverified (no false
//! refusal); a request the gate admits after a change has the signature base of the one
//! that was signed (covered components cannot be altered); an admitted request is never
//! admitted twice (replay); every refusal has a 4xx/5xx status and a code.
#![no_main]
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use kya_core::grant::{Action, Amount, Asset, Money};
use kya_fuzz::verify::{clock, now, policy};
use kya_fuzz::{CHAIN_VECTORS, ROOMY, vector_key};
use kya_verify::http::{
    ChainTransport, HttpPolicy, HttpRequest, KyaGate, Refusal, RequestSigner, Route, SignOptions,
};
use kya_verify::{MemoryLedger, Verifier};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn gate() -> KyaGate {
    let http = HttpPolicy::default()
        .route(Route::new("/pay", Action::parse("payments/send").expect("action")).method("POST"))
        .route(Route::new(
            "/catalog",
            Action::parse("catalog/read").expect("action"),
        ));
    let verifier = Verifier::new(policy())
        .with_clock(Arc::new(clock()))
        .with_ledger(Arc::new(MemoryLedger::default()));
    KyaGate::new(Arc::new(verifier), http.authority("shop.example"))
}

fn check_refusal(r: &Refusal) {
    assert!((400..600).contains(&r.status()), "status {}", r.status());
    if let Refusal::NotVerified(e) = r {
        assert!(!e.code().as_str().is_empty());
    }
}

const HEADERS: &[&str] = &[
    "signature-input",
    "signature",
    "content-digest",
    "kya-chain",
    "kya-chain-digest",
    "kya-action",
    "kya-amount",
    "signature-agent",
    "host",
    "content-type",
];

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(raw) = u.ratio(1, 4) else { return };
    if raw {
        let method = ["GET", "POST", "post", ""][u.choose_index(4).unwrap_or(0)];
        let path = String::arbitrary(&mut u).unwrap_or_default();
        let mut req = HttpRequest::new(method, "shop.example", &path);
        for _ in 0..u.int_in_range(0..=6u8).unwrap_or(0) {
            let name = HEADERS[u.choose_index(HEADERS.len()).unwrap_or(0)];
            let value = String::arbitrary(&mut u).unwrap_or_default();
            req = req.header(name, &value);
        }
        req = req.body(u.take_rest().to_vec());
        if let Err(r) = gate().admit(&req) {
            check_refusal(&r);
        }
        return;
    }

    let Ok(which) = u.int_in_range(0..=2u8) else {
        return;
    };
    let Ok(Value::Array(chain)) =
        kya_core::json::parse_strict(CHAIN_VECTORS[usize::from(which)], ROOMY)
    else {
        return;
    };
    let agent = vector_key(which + 2);
    let Ok(signer) = RequestSigner::new(&agent, &Value::Array(chain)) else {
        return;
    };
    let transport = [ChainTransport::Auto, ChainTransport::Inline][u.choose_index(2).unwrap_or(0)];
    let signer = signer.transport(transport);
    let (method, path) = [
        ("POST", "/pay"),
        ("GET", "/catalog"),
        ("GET", "/catalog/items?page=2"),
        ("POST", "/pay?x=1"),
    ][u.choose_index(4).unwrap_or(0)];
    let mut req = HttpRequest::new(method, "shop.example", path);
    req = req.body(Vec::<u8>::arbitrary(&mut u).unwrap_or_default());
    let route_action = if path.starts_with("/pay") {
        "payments/send"
    } else {
        "catalog/read"
    };
    // The declared action: none, the route's own, or (less often) another one.
    let declared = [
        None,
        Some(route_action),
        Some(route_action),
        Some("payments/send"),
        Some("payments"),
    ][u.choose_index(5).unwrap_or(0)];
    let honest = declared.is_none_or(|a| a == route_action);
    let action = declared.and_then(|a| Action::parse(a).ok());
    let amount = if u.ratio(1, 2).unwrap_or(false) {
        let cents = u.int_in_range(0..=5000u32).unwrap_or(100);
        Some(Money::new(
            Amount::from_parts(u128::from(cents), 2).expect("amount"),
            Asset::parse("USD").expect("asset"),
        ))
    } else {
        None
    };
    let created = now().add_seconds(-i64::from(u.int_in_range(0..=30u8).unwrap_or(0)));
    let expires = created.add_seconds(i64::from(u.int_in_range(1..=240u16).unwrap_or(60)));
    let nonce = format!("n-{}", u32::arbitrary(&mut u).unwrap_or(0));
    let options = SignOptions {
        action: action.as_ref(),
        amount: amount.as_ref(),
        created,
        expires,
        nonce: &nonce,
    };
    let Ok(_) = signer.sign(&mut req, &options) else {
        return;
    };

    // The untouched request: verified (then allowed or denied), never "not verified".
    let reference = gate();
    let base = match reference.admit(&req) {
        Ok(admitted) => Some(admitted.signature.signature_base().to_vec()),
        Err(Refusal::Denied { .. }) => None,
        Err(Refusal::NotVerified(e)) if honest => {
            panic!("an honestly signed request was refused: {e} ({})", e.code())
        }
        Err(_) => None,
    };
    // Replay to the same gate: never admitted again.
    assert!(
        reference.admit(&req).is_err(),
        "a replayed request was admitted"
    );

    // One change, then a fresh gate (fresh nonce store).
    let mut changed = req.clone();
    match u.int_in_range(0..=7u8).unwrap_or(0) {
        0 => {
            changed.method =
                ["GET", "POST", "PUT", "post"][u.choose_index(4).unwrap_or(0)].to_owned()
        }
        1 => {
            changed.authority = ["shop.example", "evil.example", "shop.example:443"]
                [u.choose_index(3).unwrap_or(0)]
            .to_owned()
        }
        2 => {
            changed.path =
                ["/pay", "/catalog", "/pay/", "/PAY"][u.choose_index(4).unwrap_or(0)].to_owned()
        }
        3 => {
            changed.query = [None, Some("x=1".to_owned()), Some(String::new())]
                [u.choose_index(3).unwrap_or(0)]
            .clone()
        }
        4 => changed.body = Vec::<u8>::arbitrary(&mut u).unwrap_or_default(),
        5 if !changed.headers.is_empty() => {
            let i = u.choose_index(changed.headers.len()).unwrap_or(0);
            let v = &mut changed.headers[i].1;
            let mut bytes = v.clone().into_bytes();
            if !bytes.is_empty() {
                let j = u.choose_index(bytes.len()).unwrap_or(0);
                bytes[j] ^= 1 << u.int_in_range(0..=6u8).unwrap_or(0);
            }
            *v = String::from_utf8(bytes).unwrap_or_default();
        }
        6 if !changed.headers.is_empty() => {
            let i = u.choose_index(changed.headers.len()).unwrap_or(0);
            changed.headers.remove(i);
        }
        _ => {
            let name = HEADERS[u.choose_index(HEADERS.len()).unwrap_or(0)];
            let value = String::arbitrary(&mut u).unwrap_or_default();
            changed.headers.push((name.to_owned(), value));
        }
    }
    match gate().admit(&changed) {
        Ok(admitted) => {
            assert_eq!(
                Some(admitted.signature.signature_base().to_vec()),
                base,
                "a change to a covered component was admitted"
            );
        }
        Err(r) => check_refusal(&r),
    }
});

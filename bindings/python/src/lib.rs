#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod credentials;
mod errors;
mod http;
mod keys;
mod time;
mod verify;

use std::time::Instant;

use pyo3::prelude::*;

/// A request as the benchmark passes it: method, absolute URL, headers, body.
type BenchRequest = (String, String, Vec<(String, String)>, Vec<u8>);

/// Every stable code kya knows, in its order (`kya_verify::Code::ALL`): `kya.errors` has one
/// exception class per code, and its tests check the two lists agree.
#[pyfunction]
fn codes() -> Vec<&'static str> {
    kya_verify::Code::ALL.iter().map(|c| c.as_str()).collect()
}

/// The same admissions `Gate.check` runs, timed in Rust alone (the requests are converted
/// before the clock starts): the native baseline of the binding benchmark. Returns the
/// seconds taken and how many were admitted.
#[pyfunction]
fn _bench_native_admit(
    py: Python<'_>,
    gate: &verify::PyGate,
    requests: Vec<BenchRequest>,
) -> (f64, usize) {
    let views: Vec<kya_verify::http::HttpRequest> = requests
        .into_iter()
        .map(|(method, url, headers, body)| {
            let (_, mut view) = kya_verify::http::HttpRequest::from_url(&method, &url)
                .unwrap_or_else(|_| {
                    (
                        String::new(),
                        kya_verify::http::HttpRequest::new(&method, "", "/"),
                    )
                });
            view.headers = headers;
            view.body = body;
            view
        })
        .collect();
    py.detach(|| {
        let start = Instant::now();
        let admitted = views.iter().filter(|v| gate.0.admit(v).is_ok()).count();
        (start.elapsed().as_secs_f64(), admitted)
    })
}

/// `iterations` verifications of one chain by `verifier`, timed in Rust alone.
#[pyfunction]
fn _bench_native_verify_chain(
    py: Python<'_>,
    verifier: &verify::PyVerifier,
    chain: &Bound<'_, PyAny>,
    iterations: usize,
) -> PyResult<(f64, usize)> {
    let bytes = credentials::json_bytes(chain)?;
    Ok(py.detach(|| {
        let start = Instant::now();
        let ok = (0..iterations)
            .filter(|_| verifier.0.verify_chain(&bytes).is_ok())
            .count();
        (start.elapsed().as_secs_f64(), ok)
    }))
}

/// The native module of the `kya` package.
#[pymodule]
fn _kya(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<keys::PyPublicKey>()?;
    m.add_class::<keys::PySecretKey>()?;
    m.add_class::<keys::PyDid>()?;
    m.add_class::<credentials::PyGrant>()?;
    m.add_class::<credentials::PyCredential>()?;
    m.add_class::<credentials::PyChain>()?;
    m.add_class::<http::PyRequestSigner>()?;
    m.add_class::<http::PySignedRequest>()?;
    m.add_class::<verify::PyPolicy>()?;
    m.add_class::<verify::PySnapshot>()?;
    m.add_class::<verify::PyReason>()?;
    m.add_class::<verify::PyVerifiedAgent>()?;
    m.add_class::<verify::PyDecision>()?;
    m.add_class::<verify::PyVerifier>()?;
    m.add_class::<verify::PyGate>()?;
    m.add_class::<verify::PyGateOutcome>()?;
    m.add_function(wrap_pyfunction!(credentials::issue_authorization, m)?)?;
    m.add_function(wrap_pyfunction!(credentials::delegate, m)?)?;
    m.add_function(wrap_pyfunction!(credentials::grants_attenuate, m)?)?;
    m.add_function(wrap_pyfunction!(codes, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_native_admit, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_native_verify_chain, m)?)?;
    Ok(())
}

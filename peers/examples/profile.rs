//! One of the bench fixtures in a loop, for profilers: time and heap allocations per
//! operation on stderr.
//!
//! ```sh
//! cd peers && cargo build --release --example profile
//! ITERS=20000 target/release/examples/profile chain2     # or: fresh, cached
//! # instructions per operation (what the README's instruction counts are):
//! ITERS=200 valgrind --tool=callgrind --toggle-collect='*kya_chain_decide*' \
//!     target/release/examples/profile chain2             # fresh, cached: '*KyaGate*admit*'
//!                                                        # raw1: '*RawSig*verify*'
//! ```
//!
//! `chain2` is `chain2_vs_biscuit2`'s kya side (`verify_chain` + `decide` of the two-link
//! chain); `fresh` and `cached` are the two `KyaGate::admit` sides (requests signed before
//! the loop). Divide callgrind's "Collected" count by `ITERS`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use kya_peers::*;

/// The system allocator, counting calls and bytes.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: the caller's guarantees for `alloc` hold for `System.alloc`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size, Relaxed);
        // SAFETY: as for `dealloc`, and the caller's guarantees for `realloc` hold.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "chain2".into());
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let (allocs, bytes, elapsed) = match mode.as_str() {
        "chain2" => {
            let chain2 = chain2_bytes();
            let verifier = merchant_verifier();
            let request = payment_request("9.99");
            let (a, b, t) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed), Instant::now());
            for _ in 0..iters {
                assert!(kya_chain_decide(black_box(&chain2), &verifier, &request));
            }
            (a, b, t.elapsed())
        }
        "fresh" | "cached" => {
            let chain3 = vector("kya/chains/valid-3.json");
            let capacity = if mode == "fresh" { 0 } else { 1024 };
            let fixture =
                HttpFixture::new(&chain3, kya_verify::http::ChainTransport::Auto, capacity);
            assert!(kya_admit(&fixture.gate, &fixture.signed_request()));
            let requests: Vec<_> = (0..iters).map(|_| fixture.signed_request()).collect();
            let (a, b, t) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed), Instant::now());
            for request in &requests {
                assert!(kya_admit(&fixture.gate, request));
            }
            (a, b, t.elapsed())
        }
        "raw1" => {
            // The baseline of `cached`: one `verify_strict` of a request signature.
            let chain3 = vector("kya/chains/valid-3.json");
            let fixture = HttpFixture::new(&chain3, kya_verify::http::ChainTransport::Auto, 0);
            let raw = fixture.request_signature(&fixture.signed_request());
            let (a, b, t) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed), Instant::now());
            for _ in 0..iters {
                black_box(&raw).verify();
            }
            (a, b, t.elapsed())
        }
        other => {
            eprintln!("unknown mode `{other}`: chain2, fresh, cached or raw1");
            std::process::exit(2);
        }
    };
    let per = |n: usize| n / iters.max(1);
    eprintln!(
        "{mode} {:?}/iter\n{mode}: {} allocs, {} bytes per iter",
        elapsed / u32::try_from(iters.max(1)).unwrap_or(u32::MAX),
        per(ALLOCS.load(Relaxed) - allocs),
        per(BYTES.load(Relaxed) - bytes),
    );
}

//! Memory per cached chain: verifies N distinct 3-link chains through a
//! `kya_verify::Verifier` (which caches each verified chain) and prints
//! `MEMORY cached_chain_bytes <live heap bytes added / N>` (and the peak, on stderr).
//!
//! A counting global allocator tracks live heap bytes; the chains' input bytes are made
//! before the measurement starts, and everything verification allocates and frees again
//! cancels out, so what remains is what the cache holds (entries and index).
//!
//! Usage: `cache-memory [N]` (default 2000).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use kya_peers::{chain3_numbered, merchant_clock, merchant_policy};
use kya_verify::Verifier;
use kya_verify::policy::Policy;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live =
                LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let live = LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            ) + new_size as isize
                - layout.size() as isize;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let chains: Vec<Vec<u8>> = (0..n as u32).map(chain3_numbered).collect();
    let input_bytes: usize = chains.iter().map(Vec::len).sum::<usize>() / n.max(1);
    let base = merchant_policy();
    let policy: Policy = Policy::builder()
        .trust_root(base.trusted_roots()[0])
        .audience(base.audience().unwrap_or_default())
        .cache_capacity(n)
        .build();
    let verifier = Verifier::new(policy).with_clock(Arc::new(merchant_clock()));
    // One chain first, so that lazily initialised state is not charged to the cache.
    verifier.verify_chain(&chains[0]).expect("verifies");

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    for chain in &chains[1..] {
        verifier.verify_chain(chain).expect("verifies");
    }
    let after = LIVE.load(Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed);
    let cached = verifier.cache().len();
    assert_eq!(cached, n, "every chain is cached");
    let per_chain = (after - before) / (n as isize - 1);
    eprintln!(
        "# cache: {n} distinct 3-link chains ({input_bytes} input bytes each) cached; live heap +{} bytes, peak +{} bytes above the start",
        after - before,
        peak - before
    );
    println!("MEMORY cached_chain_bytes {per_chain}");
}

//! Prometheus metrics in the text exposition format, written by hand (a few counters and one
//! histogram need no client library). Label values are `kya_verify::Code`s and fixed
//! outcome names, so the number of series is bounded whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25,
];

/// The gateway's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    decisions: Mutex<BTreeMap<(&'static str, String), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
    store_errors: AtomicU64,
    sync_errors: AtomicU64,
    syncs: AtomicU64,
    reloads: AtomicU64,
    reload_errors: AtomicU64,
    receipts: AtomicU64,
    receipt_errors: AtomicU64,
    anchors: AtomicU64,
    anchor_errors: AtomicU64,
    settlements: AtomicU64,
    settlement_errors: AtomicU64,
}

impl Metrics {
    /// Counts one decision: `outcome` (`allow`, `deny`, `refused`, `unavailable`) and the
    /// reason codes (`none` for an allow).
    pub fn decision(&self, outcome: &'static str, codes: &[String], took: Duration) {
        if let Ok(mut d) = self.decisions.lock() {
            if codes.is_empty() {
                *d.entry((outcome, "none".to_owned())).or_default() += 1;
            }
            for code in codes {
                *d.entry((outcome, code.clone())).or_default() += 1;
            }
        }
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// A nonce store or ledger could not answer.
    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A registry sync finished (`ok`) or failed.
    pub fn sync(&self, ok: bool) {
        let c = if ok { &self.syncs } else { &self.sync_errors };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A reload finished (`ok`) or failed (the previous configuration stays).
    pub fn reload(&self, ok: bool) {
        let c = if ok {
            &self.reloads
        } else {
            &self.reload_errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A receipt was logged (`ok`) or could not be.
    pub fn receipt(&self, ok: bool) {
        let c = if ok {
            &self.receipts
        } else {
            &self.receipt_errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A checkpoint was anchored on chain (`ok`) or the attempt failed.
    pub fn anchor(&self, ok: bool) {
        let c = if ok {
            &self.anchors
        } else {
            &self.anchor_errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// An x402 payment was settled on chain (`ok`) or its settlement failed (nothing forwarded).
    pub fn settlement(&self, ok: bool) {
        let c = if ok {
            &self.settlements
        } else {
            &self.settlement_errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition, with the registry view's block and age when there is a view.
    pub fn render(&self, view: Option<(u64, f64)>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP kya_gateway_decisions_total Requests decided, by outcome and reason code.\n# TYPE kya_gateway_decisions_total counter"
        );
        if let Ok(d) = self.decisions.lock() {
            for ((outcome, code), n) in d.iter() {
                let _ = writeln!(
                    out,
                    "kya_gateway_decisions_total{{outcome=\"{outcome}\",code=\"{code}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP kya_gateway_decision_seconds Time to decide one request.\n# TYPE kya_gateway_decision_seconds histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "kya_gateway_decision_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "kya_gateway_decision_seconds_bucket{{le=\"+Inf\"}} {count}\nkya_gateway_decision_seconds_sum {sum}\nkya_gateway_decision_seconds_count {count}"
        );
        let counters = [
            (
                "store_errors_total",
                "Nonce store or ledger failures (answered 503).",
                &self.store_errors,
            ),
            (
                "registry_syncs_total",
                "Registry syncs that completed.",
                &self.syncs,
            ),
            (
                "registry_sync_errors_total",
                "Registry syncs that failed (the last view is kept).",
                &self.sync_errors,
            ),
            (
                "reloads_total",
                "Configuration reloads applied.",
                &self.reloads,
            ),
            (
                "reload_errors_total",
                "Configuration reloads refused (the previous one stays).",
                &self.reload_errors,
            ),
            (
                "receipts_total",
                "Receipts signed and logged.",
                &self.receipts,
            ),
            (
                "receipt_errors_total",
                "Decisions whose receipt could not be logged (503 when receipts are required).",
                &self.receipt_errors,
            ),
            (
                "anchors_total",
                "Receipt log checkpoints anchored on chain.",
                &self.anchors,
            ),
            (
                "settlements_total",
                "x402 payments settled on chain before forwarding.",
                &self.settlements,
            ),
            (
                "settlement_errors_total",
                "x402 payments whose settlement failed (answered 402, not forwarded).",
                &self.settlement_errors,
            ),
            (
                "anchor_errors_total",
                "Anchoring attempts that failed (retried on the next period).",
                &self.anchor_errors,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                out,
                "# HELP kya_gateway_{name} {help}\n# TYPE kya_gateway_{name} counter\nkya_gateway_{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        if let Some((block, age)) = view {
            let _ = writeln!(
                out,
                "# HELP kya_gateway_registry_block The block the registry view reflects.\n# TYPE kya_gateway_registry_block gauge\nkya_gateway_registry_block {block}\n# HELP kya_gateway_registry_age_seconds Seconds since the view's last good sync.\n# TYPE kya_gateway_registry_age_seconds gauge\nkya_gateway_registry_age_seconds {age}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_counted_by_outcome_and_code() {
        let m = Metrics::default();
        m.decision("allow", &[], Duration::from_micros(80));
        m.decision("deny", &["revoked".to_owned()], Duration::from_millis(2));
        let text = m.render(Some((7, 1.5)));
        assert!(text.contains("kya_gateway_decisions_total{outcome=\"allow\",code=\"none\"} 1"));
        assert!(text.contains("kya_gateway_decisions_total{outcome=\"deny\",code=\"revoked\"} 1"));
        assert!(text.contains("kya_gateway_decision_seconds_bucket{le=\"0.0001\"} 1"));
        assert!(text.contains("kya_gateway_decision_seconds_count 2"));
        assert!(text.contains("kya_gateway_registry_block 7"));
    }
}

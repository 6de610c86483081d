//! Prometheus metrics of the operator: reconcile counts, failures and durations.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciles: Counter,
    failures: Counter,
    duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("tabula_operator");
        let reconciles = Counter::default();
        let failures = Counter::default();
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register("reconciles", "Table reconciles run", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Table reconciles that failed with a Kubernetes API error",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one Table reconcile took",
            duration.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            reconciles,
            failures,
            duration,
        }
    }
}

impl Metrics {
    pub fn observe_reconcile(&self, took: Duration, ok: bool) {
        self.reconciles.inc();
        if !ok {
            self.failures.inc();
        }
        self.duration.observe(took.as_secs_f64());
    }

    pub fn reconciles(&self) -> u64 {
        self.reconciles.get()
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

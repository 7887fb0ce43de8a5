//! Prometheus metrics: requests by route, method and status, and a latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    /// Per route: bucket counts, sum of seconds, count.
    latency: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
}

impl Metrics {
    fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *m.requests.entry((route.to_owned(), method.to_owned(), status)).or_default() += 1;
        let (buckets, sum, count) = m.latency.entry(route.to_owned()).or_insert(([0; BUCKETS.len()], 0.0, 0));
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                buckets[i] += 1;
            }
        }
        *sum += seconds;
        *count += 1;
    }

    fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP juru_http_requests_total HTTP requests served.\n# TYPE juru_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "juru_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP juru_http_request_duration_seconds Time to answer a request.\n# TYPE juru_http_request_duration_seconds histogram\n",
        );
        for (route, (buckets, sum, count)) in &m.latency {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "juru_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "juru_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(out, "juru_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}");
            let _ = writeln!(out, "juru_http_request_duration_seconds_count{{route=\"{route}\"}} {count}");
        }
        out
    }
}

pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    state.metrics.record(&route, &method, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

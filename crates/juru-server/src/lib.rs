//! Juru over HTTP: the REST API under `/api/v1` with its OpenAPI document, Prometheus
//! `/metrics`, and the server-rendered web UI. Handlers are thin: extract, call a desk, map.

pub mod api;
mod error;
mod extract;
mod metrics;
pub mod ui;

use std::sync::Arc;

use axum::Router;
use juru_desks::Desks;

pub use error::ApiError;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// The largest dataset upload, in bytes.
    pub max_upload_bytes: u64,
    /// Set the `Secure` flag on cookies (when served over HTTPS, or not on loopback).
    pub secure_cookies: bool,
    /// Where `juru up` keeps the note saying the model pack is missing, shown in the UI.
    pub notice: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_body_bytes: 16 << 20, max_upload_bytes: 2 << 30, secure_cookies: false, notice: None }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub desks: Desks,
    pub config: Arc<Config>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) i18n: Arc<ui::i18n::I18n>,
}

impl AppState {
    pub fn new(desks: Desks, config: Config) -> AppState {
        AppState {
            desks,
            config: Arc::new(config),
            metrics: Default::default(),
            i18n: Arc::new(ui::i18n::I18n::load()),
        }
    }
}

/// The whole application: API, metrics and UI.
pub fn app(state: AppState) -> Router {
    let (api, _) = api::router(state.clone()).split_for_parts();
    Router::new()
        .merge(api)
        .merge(ui::router(state.clone()))
        .route("/metrics", axum::routing::get(metrics::render))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Unknown paths: a JSON error under `/api`, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") || uri.path().starts_with("/v1/") {
        ApiError::not_found(format!("no endpoint at {}", uri.path())).into_response()
    } else {
        (
            axum::http::StatusCode::NOT_FOUND,
            axum::response::Html("<!doctype html><title>404</title><p>Not found. <a href=\"/\">Juru</a></p>"),
        )
            .into_response()
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let state_free = api::router_for_docs();
    state_free.split_for_parts().1
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

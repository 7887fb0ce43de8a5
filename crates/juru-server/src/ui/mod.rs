//! The web UI (filled in below).
pub(crate) mod i18n;
use crate::AppState;
pub(crate) fn router(_state: AppState) -> axum::Router<AppState> {
    axum::Router::new()
}

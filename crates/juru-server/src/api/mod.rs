//! The REST API under `/api/v1`. Each module holds one area's handlers; the OpenAPI document is
//! assembled from their `#[utoipa::path]` annotations.

mod ai_systems;
mod audit;
mod bias;
mod datasets;
mod evals;
mod jobs;
mod labeling;
mod members;
mod models;
mod openai;
mod prompts;
mod review;
mod scores;
mod system;
pub(crate) mod traces;

use axum::extract::DefaultBodyLimit;
use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Juru API", description = "The REST API of Juru, the workbench for the ten AI job desks. \
        Authenticate with `Authorization: Bearer <token>` (create one with `juru token create` or on the \
        Tokens page). Errors are `{\"error\":{\"code\",\"message\"}}`."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Paging parameters of list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// At most this many items (1 to 1000, default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<&PageParams> for juru_desks::PageRequest {
    fn from(p: &PageParams) -> Self {
        juru_desks::PageRequest { limit: p.limit, cursor: p.cursor.clone() }
    }
}

/// The API's routes with their documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(system::routes())
        .merge(members::routes())
        .merge(ai_systems::routes())
        .merge(datasets::routes())
        .merge(traces::routes())
        .merge(scores::routes())
        .merge(jobs::routes())
        .merge(labeling::routes())
        .merge(review::routes())
        .merge(prompts::routes())
        .merge(evals::routes())
        .merge(bias::routes())
        .merge(models::routes())
        .merge(audit::routes());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).merge(openai::routes())
}

/// The API router, with body limits and JSON errors for everything under `/api`.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let limit = state.config.max_body_bytes;
    routes()
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(crate::error::json_fallback_errors))
}

pub(crate) fn router_for_docs() -> OpenApiRouter<AppState> {
    routes()
}

//! What the API and UI show of stored objects, and what callers send: JSON text columns become
//! JSON values, Unix milliseconds become RFC 3339 times. Request types reject unknown fields.

use juru_core::timefmt::format_ms;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use juru_store::{ai_systems, datasets, jobs, models, scores, traces, users, workspaces};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()))
}

/// One page of a listing; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listing<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Listing<T> {
    pub fn from_page<S>(page: juru_store::Page<S>, f: impl FnMut(S) -> T) -> Self {
        let p = page.map(f);
        Listing { items: p.items, next_cursor: p.next_cursor }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub created_at: String,
}

impl From<workspaces::Workspace> for WorkspaceView {
    fn from(w: workspaces::Workspace) -> Self {
        WorkspaceView {
            id: w.id,
            name: w.name,
            display_name: w.display_name,
            description: w.description,
            created_at: format_ms(w.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub locale: String,
    pub disabled: bool,
    pub created_at: String,
}

impl From<users::User> for UserView {
    fn from(u: users::User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            is_admin: u.is_admin != 0,
            locale: u.locale,
            disabled: u.disabled != 0,
            created_at: format_ms(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user: UserView,
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub workspace_id: String,
    pub user_id: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<users::ApiToken> for TokenView {
    fn from(t: users::ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            workspace_id: t.workspace_id,
            user_id: t.user_id,
            prefix: t.prefix,
            created_at: format_ms(t.created_at),
            expires_at: t.expires_at.map(format_ms),
            revoked_at: t.revoked_at.map(format_ms),
        }
    }
}

/// A new token. `token` is shown this once; Juru keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AiSystemView {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub owner: String,
    pub risk_tier: String,
    pub deployment: String,
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ai_systems::AiSystem> for AiSystemView {
    fn from(a: ai_systems::AiSystem) -> Self {
        AiSystemView {
            id: a.id,
            name: a.name,
            purpose: a.purpose,
            owner: a.owner,
            risk_tier: a.risk_tier,
            deployment: a.deployment,
            metadata: json(&a.metadata),
            created_at: format_ms(a.created_at),
            updated_at: format_ms(a.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub latest_version: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<datasets::Dataset> for DatasetView {
    fn from(d: datasets::Dataset) -> Self {
        DatasetView {
            id: d.id,
            name: d.name,
            description: d.description,
            latest_version: d.latest_version,
            created_by: d.created_by,
            created_at: format_ms(d.created_at),
            updated_at: format_ms(d.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetVersionView {
    pub id: String,
    pub dataset_id: String,
    pub version: i64,
    /// `{"fields": [{"name", "type", "nullable"}]}`
    pub schema: Value,
    pub row_count: i64,
    /// sha256 over the stored rows, one per line.
    pub content_hash: String,
    pub source: String,
    pub message: String,
    pub created_by: String,
    pub created_at: String,
}

impl From<datasets::DatasetVersion> for DatasetVersionView {
    fn from(v: datasets::DatasetVersion) -> Self {
        DatasetVersionView {
            id: v.id,
            dataset_id: v.dataset_id,
            version: v.version.unwrap_or_default(),
            schema: json(&v.schema),
            row_count: v.row_count,
            content_hash: v.content_hash,
            source: v.source,
            message: v.message,
            created_by: v.created_by,
            created_at: format_ms(v.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub index: i64,
    pub data: Value,
}

impl From<datasets::Item> for ItemView {
    fn from(i: datasets::Item) -> Self {
        ItemView { index: i.idx, data: json(&i.data) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceView {
    pub id: String,
    pub name: String,
    pub input: Value,
    pub output: Value,
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt: String,
    pub prompt_version_id: Option<String>,
    pub latency_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost: Option<f64>,
    pub status: String,
    pub metadata: Value,
    pub timestamp: String,
}

impl From<traces::Trace> for TraceView {
    fn from(t: traces::Trace) -> Self {
        TraceView {
            id: t.id,
            name: t.name,
            input: json(&t.input),
            output: json(&t.output),
            model: t.model,
            model_version_id: t.model_version_id,
            prompt: t.prompt,
            prompt_version_id: t.prompt_version_id,
            latency_ms: t.latency_ms,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cost: t.cost,
            status: t.status,
            metadata: json(&t.metadata),
            timestamp: format_ms(t.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreView {
    pub id: String,
    pub target_kind: String,
    pub target_id: String,
    pub name: String,
    pub value: Option<f64>,
    pub label: Option<String>,
    pub comment: String,
    pub source: String,
    pub author: String,
    pub created_at: String,
}

impl From<scores::Score> for ScoreView {
    fn from(s: scores::Score) -> Self {
        ScoreView {
            id: s.id,
            target_kind: s.target_kind,
            target_id: s.target_id,
            name: s.name,
            value: s.value,
            label: s.label,
            comment: s.comment,
            source: s.source,
            author: s.author,
            created_at: format_ms(s.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub progress: f64,
    pub message: String,
    pub params: Value,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<jobs::Job> for JobView {
    fn from(j: jobs::Job) -> Self {
        JobView {
            id: j.id,
            kind: j.kind,
            status: j.status,
            progress: j.progress,
            message: j.message,
            params: json(&j.params),
            result: j.result.as_deref().map(json),
            error: j.error,
            attempts: j.attempts,
            created_by: j.created_by,
            created_at: format_ms(j.created_at),
            started_at: j.started_at.map(format_ms),
            finished_at: j.finished_at.map(format_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub id: String,
    pub name: String,
    pub task: String,
    pub description: String,
    pub created_by: String,
    pub created_at: String,
}

impl From<models::Model> for ModelView {
    fn from(m: models::Model) -> Self {
        ModelView {
            id: m.id,
            name: m.name,
            task: m.task,
            description: m.description,
            created_by: m.created_by,
            created_at: format_ms(m.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelVersionView {
    pub id: String,
    pub model_id: String,
    pub version: i64,
    pub format: String,
    pub artifact_uri: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub source: String,
    pub lineage: Value,
    pub metrics: Value,
    pub created_by: String,
    pub created_at: String,
}

impl From<models::ModelVersion> for ModelVersionView {
    fn from(v: models::ModelVersion) -> Self {
        ModelVersionView {
            id: v.id,
            model_id: v.model_id,
            version: v.version,
            format: v.format,
            artifact_uri: v.artifact_uri,
            sha256: v.sha256,
            size_bytes: v.size_bytes,
            source: v.source,
            lineage: json(&v.lineage),
            metrics: json(&v.metrics),
            created_by: v.created_by,
            created_at: format_ms(v.created_at),
        }
    }
}

/// A model with its versions and aliases.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDetail {
    pub model: ModelView,
    pub versions: Vec<ModelVersionView>,
    /// Alias name to version number.
    pub aliases: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub workspace_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub summary: Value,
    pub at: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<juru_core::audit::AuditEntry> for AuditEntryView {
    fn from(e: juru_core::audit::AuditEntry) -> Self {
        AuditEntryView {
            seq: e.seq,
            workspace_id: e.workspace_id,
            actor: e.actor,
            action: e.action,
            object_kind: e.object_kind,
            object_id: e.object_id,
            summary: e.summary,
            at: format_ms(e.at_ms),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Lowercase letters, digits, `-`, `_`, `.`.
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub display_name: Option<String>,
    /// At least 10 characters. Without one the user can only use API tokens.
    pub password: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
    /// Roles to grant in the current workspace.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    /// `en` or `id`.
    pub locale: Option<String>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub username: String,
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub role: String,
    /// Whose token; administrators only. Defaults to the caller.
    pub username: Option<String>,
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiSystemRequest {
    pub name: Option<String>,
    pub purpose: Option<String>,
    pub owner: Option<String>,
    /// `unassessed`, `minimal`, `limited`, `high` or `prohibited` (EU AI Act tiers).
    pub risk_tier: Option<String>,
    pub deployment: Option<String>,
    pub metadata: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataset {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    /// Client-chosen id (at most 128 characters); a new one is made when absent. Sending the
    /// same id again does not duplicate the trace.
    pub id: Option<String>,
    pub name: Option<String>,
    pub input: Value,
    pub output: Value,
    pub model: Option<String>,
    pub model_version_id: Option<String>,
    pub prompt: Option<String>,
    pub prompt_version_id: Option<String>,
    pub latency_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost: Option<f64>,
    /// `ok` (default) or `error`.
    pub status: Option<String>,
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// RFC 3339; defaults to the time of ingest.
    pub timestamp: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceBatch {
    pub traces: Vec<TraceRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResult {
    /// Traces received.
    pub received: u64,
    /// Traces stored (ids already present are skipped).
    pub inserted: u64,
    pub ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// `trace` or `item`.
    pub target_kind: String,
    /// A trace id, or `<dataset version id>:<item index>`.
    pub target_id: String,
    pub name: String,
    pub value: Option<f64>,
    pub label: Option<String>,
    pub comment: Option<String>,
    /// `human` (default), `model` or `rule`.
    pub source: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModel {
    pub name: String,
    pub task: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelVersionRequest {
    /// `gguf`, `safetensors`, `juru-linear`, `onnx`, `external` …
    pub format: String,
    pub artifact_uri: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub source: Option<String>,
    pub lineage: Option<serde_json::Map<String, Value>>,
    pub metrics: Option<serde_json::Map<String, Value>>,
}

/// An external OpenAI-compatible endpoint to register as a model version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProvider {
    /// The API root, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The provider's name for the model (what goes in `model` of its requests).
    pub remote_model: String,
    /// Sent as `Authorization: Bearer …`; stored encrypted, never shown back.
    pub api_key: Option<String>,
    /// `chat` (default) or `embedding`.
    pub task: Option<String>,
    /// Limit for one attempt in milliseconds (default 60,000).
    pub timeout_ms: Option<u64>,
    /// Attempts after the first on 429, 5xx, timeouts and refused connections (default 3).
    pub max_retries: Option<u32>,
    /// Calls in flight at most (default 4).
    pub concurrency: Option<usize>,
    /// An alias to point at the new version (e.g. `production`).
    pub alias: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAlias {
    pub version: i64,
}

//! Schema migrations, run at every start. The DDL is written in the subset that SQLite and
//! PostgreSQL share (TEXT, BIGINT, DOUBLE PRECISION; timestamps as Unix milliseconds; JSON as
//! TEXT); the few statements that differ come in one variant per backend.

use sqlx::Executor;

use crate::audit::GENESIS;
use crate::db::{Backend, Store, now_ms};
use crate::error::Result;

struct Migration {
    version: i64,
    name: &'static str,
    common: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        common: r#"
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    is_admin BIGINT NOT NULL DEFAULT 0,
    locale TEXT NOT NULL DEFAULT 'en',
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE role_grants (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id, role)
);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE ai_systems (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    risk_tier TEXT NOT NULL DEFAULT 'unassessed',
    deployment TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    lease_until BIGINT,
    latest_version BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE dataset_versions (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    version BIGINT,
    status TEXT NOT NULL,
    schema TEXT NOT NULL DEFAULT '{"fields":[]}',
    row_count BIGINT NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    lease_until BIGINT,
    UNIQUE (dataset_id, version)
);
CREATE TABLE items (
    version_id TEXT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (version_id, idx)
);
CREATE TABLE traces (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    model_version_id TEXT,
    prompt TEXT NOT NULL DEFAULT '',
    prompt_version_id TEXT,
    latency_ms DOUBLE PRECISION,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cost DOUBLE PRECISION,
    status TEXT NOT NULL DEFAULT 'ok',
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX traces_by_model ON traces (workspace_id, model, id);
CREATE INDEX traces_by_time ON traces (workspace_id, created_at);
CREATE TABLE scores (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value DOUBLE PRECISION,
    label TEXT,
    comment TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX scores_by_target ON scores (workspace_id, target_kind, target_id);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    locked_by TEXT,
    lease_until BIGINT
);
CREATE INDEX jobs_queue ON jobs (status, created_at);
CREATE TABLE models (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    task TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE model_versions (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    format TEXT NOT NULL,
    artifact_uri TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL DEFAULT '',
    size_bytes BIGINT NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT '',
    lineage TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (model_id, version)
);
CREATE TABLE model_aliases (
    model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    version_id TEXT NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (model_id, alias)
);
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    workspace_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_by_workspace ON audit_log (workspace_id, seq);
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
"#,
        sqlite: r#"
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"#,
        postgres: r#"
CREATE FUNCTION juru_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION juru_audit_append_only();
"#,
    },
    Migration {
        version: 2,
        name: "model credentials",
        // The sealed API key of an external provider's version. Apart from the version so that
        // no listing of versions can ever carry it.
        common: r#"
CREATE TABLE model_credentials (
    version_id TEXT PRIMARY KEY REFERENCES model_versions(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 3,
        name: "labeling",
        // A project labels the items of one dataset version. `label_tasks` holds one row per item
        // with its count of submitted answers: submitting raises it with a conditional UPDATE
        // (`submitted < overlap`), whose row lock makes concurrent submits queue on PostgreSQL
        // (SQLite's writers are serialised anyway), so no item ever gets more than `overlap`.
        common: r#"
CREATE TABLE label_projects (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    dataset_version_id TEXT NOT NULL REFERENCES dataset_versions(id),
    text_field TEXT NOT NULL,
    guidelines TEXT NOT NULL DEFAULT '',
    schema_version BIGINT NOT NULL DEFAULT 1,
    overlap BIGINT NOT NULL DEFAULT 1,
    blind BIGINT NOT NULL DEFAULT 1,
    ordering TEXT NOT NULL DEFAULT 'sequential',
    status TEXT NOT NULL DEFAULT 'open',
    item_count BIGINT NOT NULL DEFAULT 0,
    settings TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE label_schemas (
    project_id TEXT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    change TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, version)
);
CREATE TABLE label_tasks (
    project_id TEXT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    submitted BIGINT NOT NULL DEFAULT 0,
    gold TEXT,
    assigned_to TEXT,
    uncertainty DOUBLE PRECISION,
    suggestion TEXT,
    PRIMARY KEY (project_id, idx)
);
CREATE INDEX label_tasks_queue ON label_tasks (project_id, submitted, idx);
CREATE TABLE label_answers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    annotator TEXT NOT NULL,
    status TEXT NOT NULL,
    value TEXT,
    original TEXT,
    schema_version BIGINT NOT NULL,
    seconds DOUBLE PRECISION,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, idx, annotator)
);
CREATE INDEX label_answers_by_status ON label_answers (project_id, status, idx);
CREATE TABLE label_resolutions (
    project_id TEXT NOT NULL REFERENCES label_projects(id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    value TEXT NOT NULL,
    method TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    sources TEXT NOT NULL DEFAULT '[]',
    schema_version BIGINT NOT NULL,
    resolved_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, idx)
);
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 4,
        name: "review",
        // Review queues hold items that routing rules sent from traces or that a gated call is
        // holding. As with labeling tasks, `review_items.submitted` counts decisions and is raised
        // by a conditional UPDATE, so no item takes more than it needs; `status` leaves
        // `pending` once, by the last decision or by the SLA timer, whichever commits first.
        common: r#"
CREATE TABLE review_queues (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    instructions TEXT NOT NULL DEFAULT '',
    reviewers_per_item BIGINT NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'open',
    settings TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE review_rules (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    queue_id TEXT NOT NULL REFERENCES review_queues(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    conditions TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (queue_id, name)
);
CREATE TABLE review_items (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    queue_id TEXT NOT NULL REFERENCES review_queues(id) ON DELETE CASCADE,
    trace_id TEXT,
    source TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    model_version_id TEXT,
    prompt_version_id TEXT,
    confidence DOUBLE PRECISION,
    metadata TEXT NOT NULL DEFAULT '{}',
    needed BIGINT NOT NULL,
    submitted BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    final_output TEXT,
    outcome_reason TEXT NOT NULL DEFAULT '',
    expected TEXT,
    gated BIGINT NOT NULL DEFAULT 0,
    callback_url TEXT,
    deadline BIGINT,
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX review_items_by_trace ON review_items (queue_id, trace_id);
CREATE INDEX review_items_queue ON review_items (queue_id, status, gated, created_at);
CREATE INDEX review_items_due ON review_items (status, gated, deadline);
CREATE TABLE review_decisions (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES review_items(id) ON DELETE CASCADE,
    queue_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    status TEXT NOT NULL,
    action TEXT,
    output TEXT,
    diff TEXT,
    reason TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '',
    seconds DOUBLE PRECISION,
    reserved_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (item_id, reviewer)
);
CREATE INDEX review_decisions_by_queue ON review_decisions (queue_id, status, reviewer);
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 5,
        name: "prompts",
        // Versions are immutable; `prompts.latest` is raised by `UPDATE … RETURNING` when a
        // version is added, so concurrent saves get distinct numbers. Labels point at versions;
        // every move, removal included, is kept in `prompt_label_moves` (and the audit log).
        common: r#"
CREATE TABLE prompts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    latest BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE prompt_versions (
    prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    template TEXT NOT NULL,
    variables TEXT NOT NULL,
    config TEXT NOT NULL,
    includes TEXT NOT NULL DEFAULT '[]',
    author TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (prompt_id, version)
);
CREATE TABLE prompt_labels (
    prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (prompt_id, label)
);
CREATE TABLE prompt_label_moves (
    id TEXT PRIMARY KEY,
    prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    from_version BIGINT,
    to_version BIGINT,
    moved_by TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX prompt_label_moves_by_label ON prompt_label_moves (prompt_id, label, created_at);
CREATE TABLE prompt_protected_labels (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, label)
);
CREATE TABLE prompt_promotions (
    id TEXT PRIMARY KEY,
    prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    from_version BIGINT,
    to_version BIGINT,
    status TEXT NOT NULL DEFAULT 'pending',
    requested_by TEXT NOT NULL,
    requester TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    decided_by TEXT,
    decision_note TEXT NOT NULL DEFAULT '',
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 6,
        name: "evals",
        // One result row per model call, keyed by the flattened cell index so that a resumed
        // run never writes a cell twice. A protected label may name a suite that must pass on
        // the candidate version before a move is approved; the request keeps the gating run.
        // Label moves are also POSTed to the workspace's prompt webhooks (as jobs).
        common: r#"
CREATE TABLE eval_suites (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE eval_runs (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    suite_name TEXT NOT NULL,
    suite TEXT NOT NULL,
    prompts TEXT NOT NULL,
    models TEXT NOT NULL,
    cases BIGINT NOT NULL,
    cells BIGINT NOT NULL,
    status TEXT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    passed BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    threshold DOUBLE PRECISION NOT NULL,
    baseline_run_id TEXT,
    job_id TEXT,
    promotion_id TEXT,
    message TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX eval_runs_by_suite ON eval_runs (workspace_id, suite_name, id);
CREATE TABLE eval_results (
    run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
    cell BIGINT NOT NULL,
    case_index BIGINT NOT NULL,
    prompt_index BIGINT NOT NULL,
    model_index BIGINT NOT NULL,
    repeat_index BIGINT NOT NULL,
    status TEXT NOT NULL,
    score DOUBLE PRECISION,
    output TEXT NOT NULL,
    graded TEXT NOT NULL,
    vars TEXT NOT NULL,
    expected TEXT,
    latency_ms DOUBLE PRECISION NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost DOUBLE PRECISION NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, cell)
);
CREATE TABLE prompt_webhooks (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, url)
);
ALTER TABLE prompt_protected_labels ADD COLUMN suite TEXT;
ALTER TABLE prompt_promotions ADD COLUMN eval_run_id TEXT;
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 7,
        name: "bias audits",
        // An audit is pinned to what it read (dataset version, model version when one made the
        // decisions), its spec (with the seed) and the Juru version, so that it can be re-run
        // to the same numbers; the report is kept whole as JSON once the job finishes.
        common: r#"
CREATE TABLE bias_audits (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    dataset_name TEXT NOT NULL,
    dataset_version BIGINT NOT NULL,
    model_version_id TEXT,
    spec TEXT NOT NULL,
    juru_version TEXT NOT NULL,
    status TEXT NOT NULL,
    rows_read BIGINT NOT NULL DEFAULT 0,
    passed BIGINT,
    report TEXT,
    message TEXT NOT NULL DEFAULT '',
    job_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX bias_audits_by_workspace ON bias_audits (workspace_id, id);
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 8,
        name: "bias probes",
        // A counterfactual probe of a registry model: pinned to the model version, the spec
        // (templates, swap list, seed, settings) and the Juru version; the report, with every
        // prompt and answer, is kept whole as JSON once the job finishes.
        common: r#"
CREATE TABLE bias_probes (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version_id TEXT NOT NULL,
    model_version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    juru_version TEXT NOT NULL,
    status TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    passed BIGINT,
    report TEXT,
    message TEXT NOT NULL DEFAULT '',
    job_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX bias_probes_by_workspace ON bias_probes (workspace_id, id);
CREATE INDEX bias_probes_by_model_version ON bias_probes (model_version_id);
CREATE INDEX bias_audits_by_model_version ON bias_audits (model_version_id);
"#,
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 9,
        name: "label moves by time",
        // A server relays label moves to its listeners by reading the recent ones, whichever
        // process wrote them.
        common: "CREATE INDEX prompt_label_moves_by_time ON prompt_label_moves (created_at);",
        sqlite: "",
        postgres: "",
    },
];

/// Applies every migration not yet applied, each in its own transaction.
pub(crate) async fn run(store: &Store) -> Result<()> {
    let mut conn = store.pool().acquire().await?;
    if store.backend() == Backend::Postgres {
        // Several servers may start at once against one database.
        conn.execute("SELECT pg_advisory_lock(7361726)").await?;
    }
    let result = apply(store, &mut conn).await;
    if store.backend() == Backend::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7361726)").await?;
    }
    result
}

async fn apply(store: &Store, conn: &mut sqlx::AnyConnection) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS juru_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM juru_migrations").fetch_all(&mut *conn).await?;
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tracing::info!(version = m.version, name = m.name, "applying migration");
        let dialect = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(m.common).execute(&mut *tx).await?;
        sqlx::raw_sql(dialect).execute(&mut *tx).await?;
        if m.version == 1 {
            sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)")
                .bind(GENESIS)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO juru_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

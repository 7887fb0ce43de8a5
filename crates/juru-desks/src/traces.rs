//! Traces: ingest logged model calls (one or a batch), list with filters, read one.

use juru_core::{Action, Area};
use juru_store::audit::NewAudit;
use juru_store::now_ms;
use juru_store::traces::{Trace, TraceFilter};
use serde_json::json;

use crate::views::{IngestResult, Listing, TraceRequest, TraceView};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

/// The most traces one batch may carry.
pub const MAX_BATCH: usize = 10_000;

fn check_text(field: &str, value: &Option<String>, max: usize) -> Result<()> {
    if let Some(v) = value
        && (v.chars().count() > max || v.chars().any(char::is_control))
    {
        return Err(DeskError::invalid(format!(
            "{field} must be at most {max} characters without control characters"
        )));
    }
    Ok(())
}

fn check_number(field: &str, value: Option<f64>) -> Result<()> {
    match value {
        Some(x) if !(x.is_finite() && x >= 0.0) => {
            Err(DeskError::invalid(format!("{field} must be a non-negative number, got {x}")))
        }
        _ => Ok(()),
    }
}

/// Checks one trace and turns it into a row; `at` names it in messages (`traces[3]`).
fn to_row(workspace_id: &str, t: &TraceRequest, at: &str, now: i64) -> Result<Trace> {
    check_text(&format!("{at}.id"), &t.id, 128)?;
    if t.id.as_deref() == Some("") {
        return Err(DeskError::invalid(format!("{at}.id must not be empty")));
    }
    for (field, value) in [("name", &t.name), ("model", &t.model), ("prompt", &t.prompt)] {
        check_text(&format!("{at}.{field}"), value, 200)?;
    }
    check_number(&format!("{at}.latency_ms"), t.latency_ms)?;
    check_number(&format!("{at}.cost"), t.cost)?;
    for (field, v) in [("input_tokens", t.input_tokens), ("output_tokens", t.output_tokens)] {
        if v.is_some_and(|n| n < 0) {
            return Err(DeskError::invalid(format!("{at}.{field} must not be negative")));
        }
    }
    let status = t.status.clone().unwrap_or_else(|| "ok".into());
    if status != "ok" && status != "error" {
        return Err(DeskError::invalid(format!("{at}.status must be \"ok\" or \"error\", got {status:?}")));
    }
    let created_at = match &t.timestamp {
        Some(ts) => juru_core::timefmt::parse_rfc3339_ms(ts)
            .ok_or_else(|| DeskError::invalid(format!("{at}.timestamp {ts:?} is not an RFC 3339 time")))?,
        None => now,
    };
    Ok(Trace {
        workspace_id: workspace_id.to_owned(),
        id: t.id.clone().unwrap_or_else(juru_core::ids::new_id),
        name: t.name.clone().unwrap_or_default(),
        input: t.input.to_string(),
        output: t.output.to_string(),
        model: t.model.clone().unwrap_or_default(),
        model_version_id: t.model_version_id.clone(),
        prompt: t.prompt.clone().unwrap_or_default(),
        prompt_version_id: t.prompt_version_id.clone(),
        latency_ms: t.latency_ms,
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cost: t.cost,
        status,
        metadata: t
            .metadata
            .as_ref()
            .map(|m| serde_json::Value::Object(m.clone()).to_string())
            .unwrap_or_else(|| "{}".into()),
        created_at,
    })
}

impl Desks {
    /// Stores a batch of traces in one transaction with one audit entry. Ids already present
    /// are skipped, so a client may resend a batch after a timeout.
    pub async fn ingest_traces(&self, actor: &Actor, traces: &[TraceRequest]) -> Result<IngestResult> {
        actor.require(Area::Traces, Action::Write)?;
        if traces.is_empty() {
            return Err(DeskError::invalid("traces must not be empty"));
        }
        if traces.len() > MAX_BATCH {
            return Err(DeskError::invalid(format!(
                "a batch holds at most {MAX_BATCH} traces, got {}",
                traces.len()
            )));
        }
        let now = now_ms();
        let rows = traces
            .iter()
            .enumerate()
            .map(|(i, t)| to_row(&actor.workspace_id, t, &format!("traces[{i}]"), now))
            .collect::<Result<Vec<_>>>()?;
        let rules = self.routing_rules(&actor.workspace_id).await?;
        let mut tx = self.store.write().await?;
        let inserted = tx.insert_traces(&rows).await?;
        let routed = self.route_traces(&mut tx, &rules, &rows, &Default::default()).await?;
        let first = rows.first().map(|r| r.id.as_str()).unwrap_or_default();
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "trace.ingest",
            object_kind: "trace",
            object_id: first,
            summary: json!({"received": rows.len(), "inserted": inserted, "routed_for_review": routed}),
        })
        .await?;
        tx.commit().await?;
        Ok(IngestResult {
            received: rows.len() as u64,
            inserted,
            ids: rows.into_iter().map(|r| r.id).collect(),
        })
    }

    pub async fn traces(
        &self,
        actor: &Actor,
        filter: &TraceFilter,
        page: &PageRequest,
    ) -> Result<Listing<TraceView>> {
        actor.require(Area::Traces, Action::Read)?;
        Ok(Listing::from_page(self.store.traces(&actor.workspace_id, filter, page).await?, Into::into))
    }

    pub async fn trace(&self, actor: &Actor, id: &str) -> Result<TraceView> {
        actor.require(Area::Traces, Action::Read)?;
        Ok(self.store.trace(&actor.workspace_id, id).await?.into())
    }
}

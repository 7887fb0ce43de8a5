//! Jobs: long work run by workers. `juru serve` runs workers in-process; `juru worker` runs
//! them as separate processes that share a PostgreSQL database. Tests step a worker with
//! [`Worker::run_once`] instead of waiting.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use juru_core::dataset::Format;
use juru_core::{Action, Area};
use juru_store::audit::NewAudit;
use juru_store::jobs::{Job, JobOutcome};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::actor::Via;
use crate::classifiers::TrainRequest;
use crate::datasets::{ImportRequest, Progress};
use crate::views::{JobView, Listing};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

/// A worker that stops renewing its lease for this long is presumed dead; its job is resumed.
pub const JOB_LEASE_MS: i64 = 30_000;
/// Attempts before a job that keeps killing its worker is failed.
pub const MAX_ATTEMPTS: i64 = 3;
/// The job kinds this build knows how to run.
pub const KINDS: &[&str] = &[
    DATASET_IMPORT,
    MODEL_TRAIN,
    LABELING_RETRAIN,
    REVIEW_WEBHOOK,
    EVAL_RUN,
    PROMPT_WEBHOOK,
    BIAS_AUDIT,
    BIAS_PROBE,
];
pub use crate::bias::BIAS_AUDIT;
pub use crate::eval::EVAL_RUN;
pub use crate::labeling::active::LABELING_RETRAIN;
pub use crate::probes::BIAS_PROBE;
pub use crate::prompts::PROMPT_WEBHOOK;
pub use crate::review::gate::REVIEW_WEBHOOK;
pub const DATASET_IMPORT: &str = "dataset.import";
pub const MODEL_TRAIN: &str = "model.train";

/// Parameters of a `model.train` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainParams {
    user_id: String,
    request: TrainRequest,
}

/// Parameters of a `dataset.import` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImportParams {
    user_id: String,
    /// The spooled upload, deleted when the job ends.
    path: PathBuf,
    name: String,
    description: String,
    format: Option<Format>,
    new_version: bool,
    source: String,
}

impl Desks {
    /// Queues a job with its audit entry and wakes a worker.
    async fn enqueue(
        &self,
        actor: &Actor,
        kind: &str,
        params: &impl Serialize,
        summary: serde_json::Value,
    ) -> Result<JobView> {
        let params = serde_json::to_string(params).map_err(DeskError::internal)?;
        let mut tx = self.store.write().await?;
        let job = tx.insert_job(&actor.workspace_id, kind, &params, &actor.audit_name()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "job.create",
            object_kind: "job",
            object_id: &job.id,
            summary,
        })
        .await?;
        tx.commit().await?;
        self.job_wakeup.notify_one();
        Ok(job.into())
    }

    /// Queues an active-learning retraining of a labeling project.
    pub(crate) async fn enqueue_labeling_retrain(
        &self,
        actor: &Actor,
        params: &crate::labeling::active::RetrainParams,
        summary: serde_json::Value,
    ) -> Result<JobView> {
        self.enqueue(actor, LABELING_RETRAIN, params, summary).await
    }

    /// Queues the import of a file already spooled into the data directory.
    pub async fn enqueue_import(&self, actor: &Actor, path: PathBuf, req: &ImportRequest) -> Result<JobView> {
        actor.require(Area::Datasets, Action::Write)?;
        juru_core::names::validate_name("dataset name", &req.name)?;
        let params = ImportParams {
            user_id: actor.user_id.clone(),
            path,
            name: req.name.clone(),
            description: req.description.clone(),
            format: req.format,
            new_version: req.new_version,
            source: req.source.clone(),
        };
        let summary = json!({"after": {"kind": DATASET_IMPORT, "dataset": req.name, "source": req.source}});
        self.enqueue(actor, DATASET_IMPORT, &params, summary).await
    }

    /// Queues the training of a built-in classifier.
    pub async fn enqueue_train(&self, actor: &Actor, req: &TrainRequest) -> Result<JobView> {
        actor.require(Area::Models, Action::Write)?;
        juru_core::names::validate_name("model name", &req.name)?;
        let params = TrainParams { user_id: actor.user_id.clone(), request: req.clone() };
        let summary = json!({"after": {"kind": MODEL_TRAIN, "model": req.name, "dataset": req.dataset}});
        self.enqueue(actor, MODEL_TRAIN, &params, summary).await
    }

    pub async fn jobs(
        &self,
        actor: &Actor,
        status: Option<&str>,
        kind: Option<&str>,
        page: &PageRequest,
    ) -> Result<Listing<JobView>> {
        actor.require(Area::Jobs, Action::Read)?;
        Ok(Listing::from_page(self.store.jobs(&actor.workspace_id, status, kind, page).await?, Into::into))
    }

    pub async fn job(&self, actor: &Actor, id: &str) -> Result<JobView> {
        actor.require(Area::Jobs, Action::Read)?;
        Ok(self.store.job(&actor.workspace_id, id).await?.into())
    }

    /// Cancels a job: its author may, and so may roles that manage jobs.
    pub async fn cancel_job(&self, actor: &Actor, id: &str) -> Result<JobView> {
        let job = self.store.job(&actor.workspace_id, id).await?;
        if !job.created_by.starts_with(&format!("user:{} ", actor.username))
            && job.created_by != format!("user:{}", actor.username)
        {
            actor.require(Area::Jobs, Action::Write)?;
        }
        let mut tx = self.store.write().await?;
        let job = tx.cancel_job(&actor.workspace_id, id).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "job.cancel",
            object_kind: "job",
            object_id: id,
            summary: json!({"kind": job.kind}),
        })
        .await?;
        tx.commit().await?;
        Ok(job.into())
    }
}

/// Runs queued jobs.
pub struct Worker {
    desks: Desks,
    id: String,
}

impl Worker {
    pub fn new(desks: Desks) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        Worker { desks, id: format!("{host}:{}:{}", std::process::id(), &juru_core::ids::new_id()[24..]) }
    }

    /// Housekeeping, then one job if there is one. `Ok(true)` when a job ran.
    pub async fn run_once(&self) -> Result<bool> {
        let store = &self.desks.store;
        store.requeue_stale_jobs(MAX_ATTEMPTS).await?;
        store.delete_expired_imports().await?;
        let overdue = self.desks.settle_overdue_reviews().await?;
        if overdue > 0 {
            tracing::info!(items = overdue, "review items settled by their SLA");
        }
        let Some(job) = store.claim_job(&self.id, KINDS, JOB_LEASE_MS).await? else { return Ok(false) };
        tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
        let outcome = match self.run_job(&job).await {
            Ok(result) => JobOutcome::Succeeded { result: result.to_string() },
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "job failed");
                JobOutcome::Failed { error: e.to_string() }
            }
        };
        store.finish_job(&job.id, &self.id, &outcome).await?;
        Ok(true)
    }

    /// Runs jobs until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run_once().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "worker error"),
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.desks.job_wakeup.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn run_job(&self, job: &Job) -> Result<serde_json::Value> {
        match job.kind.as_str() {
            DATASET_IMPORT => self.run_import(job).await,
            REVIEW_WEBHOOK | PROMPT_WEBHOOK => self.desks.deliver_webhook(&job.id, &job.params).await,
            MODEL_TRAIN => self.run_train(job).await,
            EVAL_RUN => {
                let p: crate::eval::EvalParams =
                    serde_json::from_str(&job.params).map_err(DeskError::internal)?;
                let actor = self.job_or_system_actor(job, &p.user_id).await?;
                let progress = Arc::new(Progress::default());
                let ticker = self.report_progress(job, progress.clone(), "cases");
                let result = self.desks.run_eval(&actor, &p.run_id, progress).await;
                ticker.abort();
                serde_json::to_value(result?).map_err(DeskError::internal)
            }
            BIAS_AUDIT => {
                let progress = Arc::new(Progress::default());
                let ticker = self.report_progress(job, progress.clone(), "rows");
                let result = self.desks.run_bias_audit(&job.params, &progress).await;
                ticker.abort();
                result
            }
            BIAS_PROBE => {
                let p: crate::probes::ProbeParams =
                    serde_json::from_str(&job.params).map_err(DeskError::internal)?;
                let actor = self.job_or_system_actor(job, &p.user_id).await?;
                let progress = Arc::new(Progress::default());
                let ticker = self.report_progress(job, progress.clone(), "calls");
                let result = self.desks.run_bias_probe(&actor, &p.probe_id, &progress).await;
                ticker.abort();
                result
            }
            LABELING_RETRAIN => {
                let p: crate::labeling::active::RetrainParams =
                    serde_json::from_str(&job.params).map_err(DeskError::internal)?;
                let actor = self.job_actor(job, &p.user_id).await?;
                let outcome = self.desks.retrain_label_model(&actor, &p.project).await?;
                serde_json::to_value(outcome).map_err(DeskError::internal)
            }
            other => Err(DeskError::invalid(format!("unknown job kind {other:?}"))),
        }
    }

    /// The user a job runs for; the workspace's system for work the demo queued at set-up,
    /// which belongs to no user.
    async fn job_or_system_actor(&self, job: &Job, user_id: &str) -> Result<Actor> {
        if user_id.is_empty() {
            let ws = self.desks.store.workspace(&job.workspace_id).await?;
            return Ok(Actor { via: Via::Job { job_id: job.id.clone() }, ..Actor::system(&ws.id, &ws.name) });
        }
        self.job_actor(job, user_id).await
    }

    async fn job_actor(&self, job: &Job, user_id: &str) -> Result<Actor> {
        let store = &self.desks.store;
        let user = store.user(user_id).await?;
        let ws = store.workspace(&job.workspace_id).await?;
        let roles = self.desks.roles(&ws.id, &user.id).await?;
        Ok(Actor {
            user_id: user.id,
            username: user.username,
            workspace_id: ws.id,
            workspace_name: ws.name,
            roles,
            is_admin: user.is_admin != 0,
            via: Via::Job { job_id: job.id.clone() },
            locale: user.locale,
        })
    }

    /// Reports `progress` on the job every quarter second until the returned handle is
    /// aborted; cancels the work when the job is no longer this worker's.
    fn report_progress(
        &self,
        job: &Job,
        progress: Arc<Progress>,
        what: &'static str,
    ) -> tokio::task::JoinHandle<()> {
        let (store, id, worker) = (self.desks.store.clone(), job.id.clone(), self.id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let msg = match what {
                    "rows" => format!("{} rows written", progress.rows()),
                    "cases" => format!("{} results written", progress.rows()),
                    _ => format!("{:.0}% trained", progress.fraction() * 100.0),
                };
                match store.job_progress(&id, &worker, progress.fraction(), &msg, JOB_LEASE_MS).await {
                    Ok(true) => {}
                    Ok(false) => {
                        progress.cancel();
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not record job progress"),
                }
            }
        })
    }

    async fn run_train(&self, job: &Job) -> Result<serde_json::Value> {
        let p: TrainParams = serde_json::from_str(&job.params).map_err(DeskError::internal)?;
        let actor = self.job_actor(job, &p.user_id).await?;
        let progress = Arc::new(Progress::default());
        let ticker = self.report_progress(job, progress.clone(), "train");
        let result = self.desks.train_classifier(&actor, &p.request, progress).await;
        ticker.abort();
        serde_json::to_value(result?).map_err(DeskError::internal)
    }

    async fn run_import(&self, job: &Job) -> Result<serde_json::Value> {
        let p: ImportParams = serde_json::from_str(&job.params).map_err(DeskError::internal)?;
        let actor = self.job_actor(job, &p.user_id).await?;
        // An earlier attempt that died may have left a half-written import under this job.
        self.desks.store.delete_imports_by(&actor.audit_name()).await?;
        let progress = Arc::new(Progress::default());
        let ticker = self.report_progress(job, progress.clone(), "rows");
        let req = ImportRequest {
            name: p.name.clone(),
            description: p.description.clone(),
            format: p.format,
            new_version: p.new_version,
            source: p.source.clone(),
            message: String::new(),
        };
        let result = self.desks.import_file(&actor, &p.path, &req, progress).await;
        ticker.abort();
        let _ = std::fs::remove_file(&p.path);
        let outcome = result?;
        Ok(json!({
            "dataset": outcome.dataset.name,
            "dataset_id": outcome.dataset.id,
            "version": outcome.version.version,
            "rows": outcome.version.row_count,
        }))
    }
}

//! The evaluation engine: a suite's cases × prompt versions × models, each output graded by the
//! suite's assertions, results streamed to storage in small batches so memory stays flat
//! however many cases there are. A run that dies resumes where it stopped: results are keyed
//! by cell, and the cells already stored are skipped. Other desks reuse the engine (a protected
//! prompt label can require a passing suite before it moves).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use juru_core::eval::{
    CallFacts, Cell, Check, ECHO_MODEL, Graded, Shape, Status, Suite, grade_local, judge_prompt,
    parse_judge_score, verdict,
};
use juru_core::prompt::{CompiledPrompt, Problem, Rendered};
use juru_core::timefmt::format_ms;
use juru_core::{Action, roles::Desk};
use juru_runtime::llm::{Message, Sampling};
use juru_store::audit::NewAudit;
use juru_store::evals::{EvalResult, EvalRun};
use juru_store::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::datasets::Progress;
use crate::serving::{GenerateInput, ServedModel, Task, version_task};
use crate::views::Listing;
use crate::{Actor, DeskError, Desks, PageRequest, Result};

const PROMPTS: juru_core::Area = juru_core::Area::Desk(Desk::Prompts);
/// The job kind that runs a suite.
pub const EVAL_RUN: &str = "eval.run";
/// Results are written when this many are waiting, or every [`FLUSH_EVERY`].
const FLUSH_ROWS: usize = 256;
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Dataset rows read at a time.
const PAGE_ROWS: i64 = 256;
/// Problems listed in one error.
const MAX_PROBLEMS: usize = 40;
/// The model slot label when a suite names no models: each prompt's own `config.model`.
const OWN_MODEL: &str = "config.model";

/// Starting a run: a saved suite by name, or a definition (YAML or JSON text).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartEval {
    pub suite: Option<String>,
    pub definition: Option<String>,
    /// A finished run of the same suite to compare with.
    pub baseline: Option<String>,
}

/// Saving a suite under its name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveSuite {
    /// YAML (or JSON) text of the suite.
    pub definition: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuiteView {
    pub name: String,
    pub definition: String,
    pub cases: usize,
    pub prompts: Vec<String>,
    pub models: Vec<String>,
    pub updated_by: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvalRunView {
    pub id: String,
    pub suite: String,
    /// `queued`, `running`, `passed`, `failed`, `error`, `cancelled`.
    pub status: String,
    /// The prompt versions run, in suite order.
    pub prompts: Vec<String>,
    /// The model versions run, in suite order.
    pub models: Vec<String>,
    pub cases: i64,
    /// Model calls in all: cases × prompts × models × repeats.
    pub cells: i64,
    pub done: i64,
    pub passed: i64,
    pub failed: i64,
    pub errors: i64,
    /// passed ÷ (passed + failed); None before anything is graded.
    pub pass_rate: Option<f64>,
    pub threshold: f64,
    pub baseline_run_id: Option<String>,
    pub job_id: Option<String>,
    pub promotion_id: Option<String>,
    pub message: String,
    pub created_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl From<EvalRun> for EvalRunView {
    fn from(r: EvalRun) -> Self {
        let graded = r.passed + r.failed;
        EvalRunView {
            pass_rate: (graded > 0).then(|| r.passed as f64 / graded as f64),
            prompts: serde_json::from_str(&r.prompts).unwrap_or_default(),
            models: serde_json::from_str(&r.models).unwrap_or_default(),
            id: r.id,
            suite: r.suite_name,
            status: r.status,
            cases: r.cases,
            cells: r.cells,
            done: r.done,
            passed: r.passed,
            failed: r.failed,
            errors: r.errors,
            threshold: r.threshold,
            baseline_run_id: r.baseline_run_id,
            job_id: r.job_id,
            promotion_id: r.promotion_id,
            message: r.message,
            created_by: r.created_by,
            created_at: format_ms(r.created_at),
            finished_at: r.finished_at.map(format_ms),
        }
    }
}

impl EvalRunView {
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "passed" | "failed" | "error" | "cancelled")
    }
}

/// One result, as the API and reports show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub cell: i64,
    pub case: i64,
    pub prompt: String,
    pub model: String,
    pub repeat: i64,
    pub status: String,
    pub score: Option<f64>,
    pub output: String,
    pub graded: Vec<Graded>,
    #[schema(value_type = Object)]
    pub vars: Value,
    pub expected: Option<String>,
    pub latency_ms: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost: f64,
    pub error: String,
}

/// A case × prompt × model over its repeats.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub case: i64,
    pub prompt: String,
    pub model: String,
    pub runs: i64,
    pub passed: i64,
    pub errors: i64,
    /// passed ÷ graded runs.
    pub pass_rate: Option<f64>,
    /// Passed in some repeats and failed in others.
    pub flaky: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvalSummary {
    pub run: EvalRunView,
    /// One page of groups, in case, prompt, model order.
    pub cases: Vec<CaseSummary>,
    /// Flaky groups in the whole run.
    pub flaky: usize,
    /// The cursor for the next page (`?after=`); absent on the last page.
    pub next: Option<String>,
}

fn parse_case_cursor(c: &str) -> Option<(i64, i64, i64)> {
    let mut it = c.split('.').map(|p| p.parse::<i64>().ok());
    let key = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(key)
}

/// A cell that changed between two runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellChange {
    pub cell: i64,
    pub case: i64,
}

/// A run against a baseline: what regressed, what improved, and whether the difference in pass
/// rate is more than chance (McNemar's test on the paired cells).
#[derive(Debug, Serialize, ToSchema)]
pub struct EvalComparison {
    pub baseline: String,
    pub candidate: String,
    /// Cells graded in both runs.
    pub paired: usize,
    pub baseline_pass_rate: Option<f64>,
    pub candidate_pass_rate: Option<f64>,
    pub difference: Option<f64>,
    /// Passed in the baseline, failed now (at most 500 listed).
    pub regressions: Vec<CellChange>,
    pub regressions_total: u64,
    pub improvements: Vec<CellChange>,
    pub improvements_total: u64,
    /// Exact two-sided McNemar p-value.
    pub p_value: f64,
    /// The chi-squared statistic with continuity correction, and its p-value.
    pub chi2: f64,
    pub p_value_chi2: f64,
    /// p < 0.05.
    pub significant: bool,
}

/// A prompt version ready to render.
struct PlannedPrompt {
    reference: String,
    config: Value,
    compiled: CompiledPrompt,
    /// `config.model` of the version, if it names one.
    own_model: Option<String>,
}

/// A suite checked against the workspace: every reference resolved.
struct Plan {
    suite: Suite,
    prompts: Vec<PlannedPrompt>,
    /// Resolved model references (`name@2`), or `echo`; [`OWN_MODEL`] alone when the suite
    /// names none.
    models: Vec<String>,
    cases: u64,
    dataset: Option<DatasetSource>,
}

struct DatasetSource {
    version_id: String,
}

/// One case's data, inline or from a row.
struct CaseData {
    vars: Map<String, Value>,
    expected: Option<String>,
    /// Index into `suite.cases` for inline cases (their own assertions and threshold).
    inline: Option<usize>,
}

/// What generates: a registry model, or the echo of the rendered prompt.
#[derive(Clone)]
enum Generator {
    Echo,
    Model(ServedModel),
}

/// Parameters of an `eval.run` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EvalParams {
    pub user_id: String,
    pub run_id: String,
}

fn problems_error(what: &str, problems: &[Problem]) -> DeskError {
    let shown: Vec<String> = problems.iter().take(MAX_PROBLEMS).map(Problem::to_string).collect();
    let more = problems.len().saturating_sub(MAX_PROBLEMS);
    let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
    DeskError::invalid(format!("{what} has {} problem(s): {}{tail}", problems.len(), shown.join("; ")))
}

fn problem(at: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { at: at.into(), line: None, column: None, message: message.into() }
}

/// Sampling from a prompt's config, overlaid with the suite's settings; the seed moves with the
/// repeat so repeated runs at a temperature above 0 differ.
fn sampling(config: &Value, settings: &Map<String, Value>, repeat: u32) -> Sampling {
    let get = |k: &str| settings.get(k).or_else(|| config.get(k));
    let mut s = Sampling { temperature: 0.0, ..Sampling::default() };
    if let Some(t) = get("temperature").and_then(Value::as_f64) {
        s.temperature = t as f32;
    }
    if let Some(t) = get("top_p").and_then(Value::as_f64) {
        s.top_p = t as f32;
    }
    if let Some(n) = get("max_tokens").and_then(Value::as_u64) {
        s.max_tokens = n as usize;
    }
    if let Some(stop) = get("stop").and_then(Value::as_array) {
        s.stop = stop.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect();
    }
    let seed = get("seed").and_then(Value::as_u64).unwrap_or(42);
    s.seed = (seed as u32).wrapping_add(repeat);
    s
}

fn rendered_text(r: &Rendered) -> String {
    match r {
        Rendered::Text(t) => t.clone(),
        Rendered::Chat(m) => {
            m.iter().map(|m| format!("{}: {}", m.role, m.content)).collect::<Vec<_>>().join("\n")
        }
    }
}

fn generate_input(r: &Rendered) -> GenerateInput {
    match r {
        Rendered::Text(t) => GenerateInput::Text(t.clone()),
        Rendered::Chat(m) => GenerateInput::Chat(
            m.iter().map(|m| Message { role: m.role.clone(), content: m.content.clone() }).collect(),
        ),
    }
}

/// The values a row gives the prompt variables.
fn row_vars(
    row: &Map<String, Value>,
    mapping: &std::collections::BTreeMap<String, String>,
) -> Map<String, Value> {
    mapping
        .iter()
        .filter_map(|(var, col)| row.get(col).filter(|v| !v.is_null()).map(|v| (var.clone(), v.clone())))
        .collect()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Desks {
    /// Saves a suite under its name (replacing an earlier definition), after checking it.
    pub async fn save_eval_suite(&self, actor: &Actor, req: &SaveSuite) -> Result<SuiteView> {
        self.store_eval_suite(actor, req, true).await
    }

    /// Saves a suite; with `resolve`, its references must resolve now (the demo saves its suite
    /// before the model pack that it names is pulled).
    pub(crate) async fn store_eval_suite(
        &self,
        actor: &Actor,
        req: &SaveSuite,
        resolve: bool,
    ) -> Result<SuiteView> {
        actor.require(PROMPTS, Action::Write)?;
        let suite = parse_suite(&req.definition)?;
        if resolve {
            self.plan_eval(actor, &suite, None).await?;
        } else if let problems @ [_, ..] = suite.check().as_slice() {
            return Err(problems_error(&format!("suite {:?}", suite.name), problems));
        }
        let mut tx = self.store.write().await?;
        let saved = tx
            .save_eval_suite(&actor.workspace_id, &suite.name, &req.definition, &actor.audit_name())
            .await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "eval.suite.save",
            object_kind: "eval_suite",
            object_id: &saved.id,
            summary: json!({"suite": suite.name, "cases": suite.cases.len(), "prompts": suite.prompts, "models": suite.models}),
        })
        .await?;
        tx.commit().await?;
        Ok(suite_view(saved, &suite))
    }

    /// Adds a case to a saved suite (the playground's "save as test case"). The definition is
    /// written again from the parsed suite, so comments in it are not kept.
    pub async fn add_eval_case(
        &self,
        actor: &Actor,
        suite: &str,
        case: &juru_core::eval::Case,
    ) -> Result<SuiteView> {
        actor.require(PROMPTS, Action::Write)?;
        let saved = self.store.eval_suite(&actor.workspace_id, suite).await?;
        let mut parsed = parse_suite(&saved.definition)?;
        if parsed.dataset.is_some() {
            return Err(DeskError::invalid(format!(
                "suite {suite:?} takes its cases from a dataset; add rows there"
            )));
        }
        parsed.cases.push(case.clone());
        let definition = serde_yaml_ng::to_string(&parsed).map_err(DeskError::internal)?;
        self.store_eval_suite(actor, &SaveSuite { definition }, true).await
    }

    pub async fn eval_suites(&self, actor: &Actor) -> Result<Vec<SuiteView>> {
        actor.require(PROMPTS, Action::Read)?;
        let mut out = Vec::new();
        for s in self.store.eval_suites(&actor.workspace_id).await? {
            let suite = parse_suite(&s.definition)?;
            out.push(suite_view(s, &suite));
        }
        Ok(out)
    }

    pub async fn eval_suite(&self, actor: &Actor, name: &str) -> Result<SuiteView> {
        actor.require(PROMPTS, Action::Read)?;
        let s = self.store.eval_suite(&actor.workspace_id, name).await?;
        let suite = parse_suite(&s.definition)?;
        Ok(suite_view(s, &suite))
    }

    /// Checks a suite and queues a run of it as a job.
    pub async fn start_eval(&self, actor: &Actor, req: &StartEval) -> Result<EvalRunView> {
        let suite = self.suite_of(actor, req).await?;
        self.create_eval_run(actor, &suite, None, req.baseline.as_deref(), None, true).await
    }

    /// Checks a suite and records a run without queueing it, for a caller that runs it itself
    /// ([`Desks::run_eval`]), such as `juru eval run`.
    pub async fn prepare_eval(&self, actor: &Actor, req: &StartEval) -> Result<EvalRunView> {
        let suite = self.suite_of(actor, req).await?;
        self.create_eval_run(actor, &suite, None, req.baseline.as_deref(), None, false).await
    }

    async fn suite_of(&self, actor: &Actor, req: &StartEval) -> Result<Suite> {
        actor.require(PROMPTS, Action::Write)?;
        match (&req.suite, &req.definition) {
            (Some(name), None) => {
                parse_suite(&self.store.eval_suite(&actor.workspace_id, name).await?.definition)
            }
            (None, Some(text)) => parse_suite(text),
            _ => Err(DeskError::invalid("give a saved suite's name or a definition, one of the two")),
        }
    }

    /// Plans a run (pinning `pin`'s prompt to one version, for a label gate) and records it,
    /// with its job when `queue`.
    pub(crate) async fn create_eval_run(
        &self,
        actor: &Actor,
        suite: &Suite,
        pin: Option<(&str, i64)>,
        baseline: Option<&str>,
        promotion_id: Option<&str>,
        queue: bool,
    ) -> Result<EvalRunView> {
        let plan = self.plan_eval(actor, suite, pin).await?;
        if let Some(b) = baseline {
            let base = self.store.eval_run(&actor.workspace_id, b).await?;
            if base.suite_name != suite.name {
                return Err(DeskError::invalid(format!(
                    "baseline {b} is a run of {:?}, not of {:?}",
                    base.suite_name, suite.name
                )));
            }
        }
        let shape = plan.shape();
        let run = EvalRun {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            suite_name: suite.name.clone(),
            suite: serde_json::to_string(suite).map_err(DeskError::internal)?,
            prompts: json!(plan.prompts.iter().map(|p| &p.reference).collect::<Vec<_>>()).to_string(),
            models: json!(plan.models).to_string(),
            cases: plan.cases as i64,
            cells: shape.cells() as i64,
            status: "queued".into(),
            done: 0,
            passed: 0,
            failed: 0,
            errors: 0,
            threshold: suite.threshold,
            baseline_run_id: baseline.map(str::to_owned),
            job_id: None,
            promotion_id: promotion_id.map(str::to_owned),
            message: String::new(),
            created_by: actor.audit_name(),
            created_at: now_ms(),
            finished_at: None,
        };
        let mut tx = self.store.write().await?;
        tx.insert_eval_run(&run).await?;
        if queue {
            let params =
                serde_json::to_string(&EvalParams { user_id: actor.user_id.clone(), run_id: run.id.clone() })
                    .map_err(DeskError::internal)?;
            let job = tx.insert_job(&actor.workspace_id, EVAL_RUN, &params, &actor.audit_name()).await?;
            tx.set_eval_run_job(&run.id, &job.id).await?;
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "eval.run.create",
            object_kind: "eval_run",
            object_id: &run.id,
            summary: json!({"suite": suite.name, "prompts": serde_json::from_str::<Value>(&run.prompts).unwrap_or_default(),
                            "models": plan.models, "cases": run.cases, "cells": run.cells, "promotion": promotion_id}),
        })
        .await?;
        if let Some(p) = promotion_id {
            tx.set_promotion_eval_run(p, &run.id).await?;
        }
        tx.commit().await?;
        if queue {
            self.job_wakeup.notify_one();
        }
        Ok(self.store.eval_run(&actor.workspace_id, &run.id).await?.into())
    }

    /// Resolves every reference in a suite and checks that every case renders with every
    /// prompt; lists every problem at once.
    async fn plan_eval(&self, actor: &Actor, suite: &Suite, pin: Option<(&str, i64)>) -> Result<Plan> {
        let mut found = suite.check();
        let mut prompts = Vec::new();
        for (i, r) in suite.prompts.iter().enumerate() {
            let name = r.split_once('@').map_or(r.as_str(), |(n, _)| n);
            let reference = match pin {
                Some((p, v)) if p == name => format!("{name}@{v}"),
                _ => r.clone(),
            };
            match self.prompt_material(actor, &reference).await {
                Ok((p, v, spec, included)) => {
                    let own_model = spec.config.get("model").and_then(Value::as_str).map(str::to_owned);
                    let reference = format!("{}@{}", p.name, v.version);
                    match spec.compile(&included) {
                        Ok(compiled) => prompts.push(PlannedPrompt {
                            reference,
                            config: spec.config,
                            compiled,
                            own_model,
                        }),
                        Err(list) => {
                            for e in list {
                                found.push(problem(format!("prompts[{i}] {reference}: {}", e.at), e.message));
                            }
                        }
                    }
                }
                Err(e) => found.push(problem(format!("prompts[{i}]"), format!("{r}: {e}"))),
            }
        }
        let mut models = Vec::new();
        if suite.models.is_empty() {
            for (i, p) in prompts.iter().enumerate() {
                if p.own_model.is_none() {
                    found.push(problem(
                        format!("prompts[{i}]"),
                        format!("the suite names no models and {} has no config.model", p.reference),
                    ));
                }
            }
            models.push(OWN_MODEL.to_owned());
        }
        for (i, m) in suite.models.iter().enumerate() {
            match self.check_model(actor, m, Task::Generate).await {
                Ok(resolved) => models.push(resolved),
                Err(e) => found.push(problem(format!("models[{i}]"), e)),
            }
        }
        if suite.models.is_empty() {
            for p in &prompts {
                if let Some(m) = &p.own_model
                    && let Err(e) = self.check_model(actor, m, Task::Generate).await
                {
                    found.push(problem(format!("{} config.model", p.reference), e));
                }
            }
        }
        for (m, kind) in suite.grader_models() {
            let task = match kind {
                "similar" => Task::Embed,
                "classifier" => Task::Classify,
                _ => Task::Generate,
            };
            if let Err(e) = self.check_model(actor, &m, task).await {
                found.push(problem(format!("{kind} model"), e));
            }
        }
        let mut cases = suite.cases.len() as u64;
        let mut dataset = None;
        if let Some(d) = &suite.dataset {
            match self.check_dataset_cases(actor, suite, d, &prompts, &mut found).await {
                Ok((version_id, rows)) => {
                    cases = rows;
                    dataset = Some(DatasetSource { version_id });
                }
                Err(e) => found.push(problem("dataset", e.to_string())),
            }
        } else {
            for (i, case) in suite.cases.iter().enumerate() {
                let vars = merged(&suite.defaults.vars, &case.vars);
                for p in &prompts {
                    if let Err(list) = p.compiled.render(&vars) {
                        for e in list {
                            found.push(problem(
                                format!("cases[{i}] with {}: {}", p.reference, e.at),
                                e.message,
                            ));
                        }
                    }
                }
                if found.len() > MAX_PROBLEMS * 4 {
                    break;
                }
            }
        }
        if !found.is_empty() {
            return Err(problems_error(&format!("suite {:?}", suite.name), &found));
        }
        Ok(Plan { suite: suite.clone(), prompts, models, cases, dataset })
    }

    /// Resolves a model reference (or `echo`) and checks that it can do `task`; returns the
    /// pinned reference (`name@2`).
    async fn check_model(
        &self,
        actor: &Actor,
        reference: &str,
        task: Task,
    ) -> std::result::Result<String, String> {
        if reference == ECHO_MODEL {
            return if task == Task::Generate {
                Ok(ECHO_MODEL.into())
            } else {
                Err(format!("{ECHO_MODEL} only generates (it returns the prompt)"))
            };
        }
        let (detail, version) =
            self.resolve_version(actor, reference).await.map_err(|e| format!("{reference}: {e}"))?;
        match version_task(&version.format, &version.lineage) {
            Some(t) if t == task => Ok(format!("{}@{}", detail.model.name, version.version)),
            _ => Err(format!("{reference} is a {} model and cannot {}", version.format, task.verb())),
        }
    }

    async fn check_dataset_cases(
        &self,
        actor: &Actor,
        suite: &Suite,
        d: &juru_core::eval::DatasetCases,
        prompts: &[PlannedPrompt],
        found: &mut Vec<Problem>,
    ) -> Result<(String, u64)> {
        let version = self.dataset_version(actor, &d.name, d.version).await?;
        let columns: Vec<String> = version.schema["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect();
        for (var, col) in &d.vars {
            if !columns.contains(col) {
                found.push(problem(
                    format!("dataset.vars.{var}"),
                    format!(
                        "{} v{} has no column {col:?} (it has {})",
                        d.name,
                        version.version,
                        columns.join(", ")
                    ),
                ));
            }
        }
        if let Some(col) = &d.expected
            && !columns.contains(col)
        {
            found.push(problem("dataset.expected", format!("{} has no column {col:?}", d.name)));
        }
        let rows = d.limit.map_or(version.row_count as u64, |l| l.min(version.row_count as u64));
        if rows == 0 {
            found.push(problem("dataset", format!("{} v{} has no rows", d.name, version.version)));
        }
        // The first row must render with every prompt: this catches undeclared and missing
        // variables before anything runs.
        let first = self.store.items(&version.id, 0, 1).await?;
        if let Some(item) = first.first() {
            let row: Map<String, Value> = serde_json::from_str(&item.data).unwrap_or_default();
            let vars = merged(&suite.defaults.vars, &row_vars(&row, &d.vars));
            for p in prompts {
                if let Err(list) = p.compiled.render(&vars) {
                    for e in list {
                        found.push(problem(
                            format!("dataset row 0 with {}: {}", p.reference, e.at),
                            e.message,
                        ));
                    }
                }
            }
        }
        Ok((version.id, rows))
    }

    /// Runs (or resumes) a run: the cells without a result are run and graded, results written
    /// in batches; `progress` counts done cells and can cancel. Returns the finished run.
    pub async fn run_eval(
        &self,
        actor: &Actor,
        run_id: &str,
        progress: Arc<Progress>,
    ) -> Result<EvalRunView> {
        let run = self.store.eval_run(&actor.workspace_id, run_id).await?;
        let view: EvalRunView = run.clone().into();
        if view.finished() {
            return Ok(view);
        }
        let suite: Suite = serde_json::from_str(&run.suite).map_err(DeskError::internal)?;
        let pinned: Vec<String> = serde_json::from_str(&run.prompts).map_err(DeskError::internal)?;
        let models: Vec<String> = serde_json::from_str(&run.models).map_err(DeskError::internal)?;
        // The run keeps the versions it was planned with, however labels have moved since.
        let pinned_suite = Suite {
            prompts: pinned,
            models: if suite.models.is_empty() { vec![] } else { models },
            ..suite.clone()
        };
        let plan = match self.plan_eval(actor, &pinned_suite, None).await {
            Ok(p) => p,
            Err(e) => return self.finish_eval(actor, run_id, Some(&e.to_string())).await,
        };
        let mut generators: Vec<Vec<Generator>> = Vec::new();
        for p in &plan.prompts {
            let mut row = Vec::new();
            for m in &plan.models {
                let reference =
                    if m == OWN_MODEL { p.own_model.clone().unwrap_or_default() } else { m.clone() };
                row.push(match reference.as_str() {
                    ECHO_MODEL => Generator::Echo,
                    r => match self.serve_for(actor, r, Task::Generate).await {
                        Ok(m) => Generator::Model(m),
                        Err(e) => {
                            return self.finish_eval(actor, run_id, Some(&format!("loading {r}: {e}"))).await;
                        }
                    },
                });
            }
            generators.push(row);
        }
        let shape = plan.shape();
        let mut done = vec![0u64; shape.cells().div_ceil(64) as usize];
        let mut done_count = 0u64;
        for c in self.store.eval_done_cells(run_id).await? {
            done[(c / 64) as usize] |= 1 << (c % 64);
            done_count += 1;
        }
        let is_done = |done: &[u64], i: u64| done[(i / 64) as usize] & (1 << (i % 64)) != 0;
        let mut engine =
            Engine { desks: self, run_id, actor, plan: &plan, graders: HashMap::new(), http: None };
        let mut buffer: Vec<EvalResult> = Vec::with_capacity(FLUSH_ROWS);
        let mut last_flush = Instant::now();
        let per_case = shape.prompts as u64 * shape.models as u64 * shape.repeat as u64;
        progress.set_rows(done_count);
        let mut case = 0u64;
        while case < plan.cases {
            let page = self.case_page(&plan, case).await?;
            for data in page {
                let first = case * per_case;
                if (first..first + per_case).all(|i| is_done(&done, i)) {
                    case += 1;
                    continue;
                }
                for (p, prompt) in plan.prompts.iter().enumerate() {
                    let rendered = prompt.compiled.render(&data.vars);
                    for m in 0..shape.models {
                        for r in 0..shape.repeat {
                            let cell = Cell { case, prompt: p as u32, model: m, repeat: r };
                            let index = shape.index(cell);
                            if is_done(&done, index) {
                                continue;
                            }
                            let generator = &generators[p][m as usize];
                            let row = match &rendered {
                                Ok(text) => {
                                    engine.run_cell(prompt, generator, text, &data, cell, index).await
                                }
                                Err(list) => {
                                    let why =
                                        list.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ");
                                    error_row(run_id, index, cell, &data, format!("rendering: {why}"))
                                }
                            };
                            buffer.push(row);
                            if buffer.len() >= FLUSH_ROWS || last_flush.elapsed() >= FLUSH_EVERY {
                                done_count += self.flush_results(&mut buffer).await?;
                                progress.set_rows(done_count);
                                progress.set_fraction(done_count as f64 / shape.cells().max(1) as f64);
                                last_flush = Instant::now();
                                if progress.is_cancelled() {
                                    return Err(DeskError::Refused("the run was cancelled".into()));
                                }
                            }
                        }
                    }
                }
                case += 1;
            }
        }
        done_count += self.flush_results(&mut buffer).await?;
        progress.set_rows(done_count);
        progress.set_fraction(1.0);
        self.finish_eval(actor, run_id, None).await
    }

    /// Cases from `from` on, a page at a time.
    async fn case_page(&self, plan: &Plan, from: u64) -> Result<Vec<CaseData>> {
        let suite = &plan.suite;
        match (&plan.dataset, &suite.dataset) {
            (Some(src), Some(d)) => {
                let left = plan.cases - from;
                let items =
                    self.store.items(&src.version_id, from as i64, PAGE_ROWS.min(left as i64)).await?;
                if items.is_empty() {
                    return Err(DeskError::invalid(format!("dataset {} ended at row {from}", d.name)));
                }
                Ok(items
                    .into_iter()
                    .map(|item| {
                        let row: Map<String, Value> = serde_json::from_str(&item.data).unwrap_or_default();
                        CaseData {
                            vars: merged(&suite.defaults.vars, &row_vars(&row, &d.vars)),
                            expected: d
                                .expected
                                .as_ref()
                                .and_then(|c| row.get(c))
                                .filter(|v| !v.is_null())
                                .map(text_of),
                            inline: None,
                        }
                    })
                    .collect())
            }
            _ => Ok(suite
                .cases
                .iter()
                .enumerate()
                .skip(from as usize)
                .take(PAGE_ROWS as usize)
                .map(|(i, c)| CaseData {
                    vars: merged(&suite.defaults.vars, &c.vars),
                    expected: c.expected.clone(),
                    inline: Some(i),
                })
                .collect()),
        }
    }

    async fn flush_results(&self, buffer: &mut Vec<EvalResult>) -> Result<u64> {
        if buffer.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.write_operational().await?;
        let added = tx.add_eval_results(buffer).await?;
        tx.commit().await?;
        buffer.clear();
        Ok(added.new as u64)
    }

    /// Settles a run from its counters (or as an error, with `failure`), with an audit entry.
    async fn finish_eval(&self, actor: &Actor, run_id: &str, failure: Option<&str>) -> Result<EvalRunView> {
        let run = self.store.eval_run(&actor.workspace_id, run_id).await?;
        if run.status == "cancelled" {
            // Cancelled while its last cells ran: it stays cancelled.
            return Ok(run.into());
        }
        let suite: Suite = serde_json::from_str(&run.suite).map_err(DeskError::internal)?;
        let graded = run.passed + run.failed;
        let (status, message) = match failure {
            Some(why) => ("error", format!("the run could not go on: {why}")),
            None => {
                let pass_rate = if graded > 0 { run.passed as f64 / graded as f64 } else { 0.0 };
                let error_rate = if run.done > 0 { run.errors as f64 / run.done as f64 } else { 0.0 };
                let ok = graded > 0
                    && pass_rate >= run.threshold - 1e-12
                    && error_rate <= suite.max_error_rate + 1e-12;
                let mut why = format!(
                    "{} of {graded} graded results passed ({:.1}%, threshold {:.1}%); {} error(s)",
                    run.passed,
                    pass_rate * 100.0,
                    run.threshold * 100.0,
                    run.errors
                );
                if error_rate > suite.max_error_rate + 1e-12 {
                    why.push_str(&format!(
                        "; error rate {:.1}% is above the {:.1}% allowed",
                        error_rate * 100.0,
                        suite.max_error_rate * 100.0
                    ));
                }
                (if ok { "passed" } else { "failed" }, why)
            }
        };
        let mut tx = self.store.write().await?;
        let finished = tx.set_eval_run_status(run_id, status, &message, true).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "eval.run.finish",
            object_kind: "eval_run",
            object_id: run_id,
            summary: json!({"suite": run.suite_name, "status": status, "passed": run.passed, "failed": run.failed,
                            "errors": run.errors, "message": message}),
        })
        .await?;
        tx.commit().await?;
        Ok(finished.into())
    }

    pub async fn eval_run(&self, actor: &Actor, id: &str) -> Result<EvalRunView> {
        actor.require(PROMPTS, Action::Read)?;
        Ok(self.store.eval_run(&actor.workspace_id, id).await?.into())
    }

    pub async fn eval_runs(
        &self,
        actor: &Actor,
        suite: Option<&str>,
        page: &PageRequest,
    ) -> Result<Listing<EvalRunView>> {
        actor.require(PROMPTS, Action::Read)?;
        Ok(Listing::from_page(self.store.eval_runs(&actor.workspace_id, suite, page).await?, Into::into))
    }

    /// A page of a run's results in cell order (after `after`), of one status when given.
    pub async fn eval_results(
        &self,
        actor: &Actor,
        id: &str,
        status: Option<&str>,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ResultView>> {
        let run = self.eval_run(actor, id).await?;
        let rows =
            self.store.eval_results(&run.id, status, after.unwrap_or(-1), limit.clamp(1, 1000)).await?;
        Ok(rows.into_iter().map(|r| result_view(&run, r)).collect())
    }

    /// Pass rate and flakiness per case × prompt × model: a page of up to `limit` groups after
    /// the cursor `after` (from the previous page's `next`); `flaky` counts the whole run.
    pub async fn eval_summary(
        &self,
        actor: &Actor,
        id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<EvalSummary> {
        let run = self.eval_run(actor, id).await?;
        let key = match after {
            None => (-1, -1, -1),
            Some(c) => parse_case_cursor(c)
                .ok_or_else(|| DeskError::invalid(format!("after: {c:?} is not a cursor this API gave")))?,
        };
        let limit = limit.clamp(1, 10_000);
        let tallies = self.store.eval_case_tallies(&run.id, key, limit).await?;
        let next = (tallies.len() as i64 == limit)
            .then(|| tallies.last().map(|t| format!("{}.{}.{}", t.case_index, t.prompt_index, t.model_index)))
            .flatten();
        let cases = tallies
            .into_iter()
            .map(|t| {
                let graded = t.runs - t.errors;
                CaseSummary {
                    case: t.case_index,
                    prompt: run.prompts.get(t.prompt_index as usize).cloned().unwrap_or_default(),
                    model: run.models.get(t.model_index as usize).cloned().unwrap_or_default(),
                    runs: t.runs,
                    passed: t.passed,
                    errors: t.errors,
                    pass_rate: (graded > 0).then(|| t.passed as f64 / graded as f64),
                    flaky: t.passed > 0 && t.passed < graded,
                }
            })
            .collect();
        let flaky = self.store.eval_flaky_count(&run.id).await? as usize;
        Ok(EvalSummary { run, cases, flaky, next })
    }

    /// Compares a run with a baseline run of the same suite, cell by cell.
    pub async fn compare_eval_runs(
        &self,
        actor: &Actor,
        baseline: &str,
        candidate: &str,
    ) -> Result<EvalComparison> {
        let (a, b) = (self.eval_run(actor, baseline).await?, self.eval_run(actor, candidate).await?);
        if a.suite != b.suite || a.cells != b.cells {
            return Err(DeskError::invalid(format!(
                "runs {} ({}, {} cells) and {} ({}, {} cells) do not run the same cases",
                a.id, a.suite, a.cells, b.id, b.suite, b.cells
            )));
        }
        let pairs = self.store.eval_paired_cells(&a.id, &b.id).await?;
        let (mut regressions, mut improvements) = (Vec::new(), Vec::new());
        let (mut reg_total, mut imp_total, mut pass_a, mut pass_b) = (0u64, 0u64, 0u64, 0u64);
        for p in &pairs {
            let (x, y) = (p.baseline == "pass", p.candidate == "pass");
            pass_a += x as u64;
            pass_b += y as u64;
            match (x, y) {
                (true, false) => {
                    reg_total += 1;
                    if regressions.len() < 500 {
                        regressions.push(CellChange { cell: p.cell, case: p.case_index });
                    }
                }
                (false, true) => {
                    imp_total += 1;
                    if improvements.len() < 500 {
                        improvements.push(CellChange { cell: p.cell, case: p.case_index });
                    }
                }
                _ => {}
            }
        }
        let n = pairs.len();
        let test = juru_stats::paired::mcnemar(reg_total, imp_total);
        let rate = |k: u64| (n > 0).then(|| k as f64 / n as f64);
        Ok(EvalComparison {
            baseline: a.id,
            candidate: b.id,
            paired: n,
            baseline_pass_rate: rate(pass_a),
            candidate_pass_rate: rate(pass_b),
            difference: (n > 0).then(|| (pass_b as f64 - pass_a as f64) / n as f64),
            regressions,
            regressions_total: reg_total,
            improvements,
            improvements_total: imp_total,
            p_value: test.p_exact,
            chi2: test.statistic,
            p_value_chi2: test.p_chi2,
            significant: test.p_exact < 0.05,
        })
    }

    /// Cancels a queued or running run (its job too).
    pub async fn cancel_eval(&self, actor: &Actor, id: &str) -> Result<EvalRunView> {
        actor.require(PROMPTS, Action::Write)?;
        let run = self.eval_run(actor, id).await?;
        if run.finished() {
            return Err(DeskError::Refused(format!("run {id} is already {}", run.status)));
        }
        if let Some(job) = &run.job_id {
            // A job that already ended is fine: the run's status is what matters.
            let _ = self.cancel_job(actor, job).await;
        }
        let mut tx = self.store.write().await?;
        let r = tx.set_eval_run_status(id, "cancelled", "cancelled", true).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "eval.run.cancel",
            object_kind: "eval_run",
            object_id: id,
            summary: json!({"suite": run.suite, "done": run.done}),
        })
        .await?;
        tx.commit().await?;
        Ok(r.into())
    }
}

impl Plan {
    fn shape(&self) -> Shape {
        Shape {
            cases: self.cases,
            prompts: self.prompts.len() as u32,
            models: self.models.len() as u32,
            repeat: self.suite.repeat,
        }
    }
}

/// Runs cells: the model call, then every assertion.
struct Engine<'a> {
    desks: &'a Desks,
    run_id: &'a str,
    actor: &'a Actor,
    plan: &'a Plan,
    graders: HashMap<String, ServedModel>,
    http: Option<reqwest::Client>,
}

impl Engine<'_> {
    async fn run_cell(
        &mut self,
        prompt: &PlannedPrompt,
        generator: &Generator,
        rendered: &Rendered,
        data: &CaseData,
        cell: Cell,
        index: u64,
    ) -> EvalResult {
        let suite = &self.plan.suite;
        let started = Instant::now();
        let (output, input_tokens, output_tokens, price) = match generator {
            Generator::Echo => (rendered_text(rendered), 0, 0, None),
            Generator::Model(m) => {
                let s = sampling(&prompt.config, &suite.settings, cell.repeat);
                let price = suite
                    .prices
                    .get(&format!("{}@{}", m.name, m.version))
                    .or_else(|| suite.prices.get(&m.name));
                match self.desks.generate(self.actor, m, generate_input(rendered), s, None).await {
                    Ok(g) => (g.text, g.prompt_tokens as i64, g.completion_tokens as i64, price),
                    Err(e) => {
                        return error_row(self.run_id, index, cell, data, format!("model {}: {e}", m.name));
                    }
                }
            }
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let cost = price.map_or(0.0, |p| p.cost(input_tokens, output_tokens));
        let facts = CallFacts { latency_ms, cost };
        let case = data.inline.map(|i| &suite.cases[i]);
        let mut graded = Vec::new();
        let assertions =
            suite.defaults.assert.iter().chain(case.map(|c| c.assert.as_slice()).unwrap_or_default());
        for a in assertions {
            let g = match grade_local(a, &output, data.expected.as_deref(), facts) {
                Some(g) => g,
                None => self.grade_with_model(a, &output, data, prompt, generator).await,
            };
            graded.push(g);
        }
        let (status, score) = verdict(&graded, case.and_then(|c| c.threshold));
        let error = if status == Status::Error {
            graded
                .iter()
                .filter(|g| g.error)
                .map(|g| format!("{}: {}", g.kind, g.reason))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            String::new()
        };
        EvalResult {
            run_id: self.run_id.to_owned(),
            cell: index as i64,
            case_index: cell.case as i64,
            prompt_index: cell.prompt as i64,
            model_index: cell.model as i64,
            repeat_index: cell.repeat as i64,
            status: status.as_str().into(),
            score,
            output,
            graded: serde_json::to_string(&graded).unwrap_or_default(),
            vars: Value::Object(data.vars.clone()).to_string(),
            expected: data.expected.clone(),
            latency_ms,
            input_tokens,
            output_tokens,
            cost: facts.cost,
            error,
            created_at: now_ms(),
        }
    }

    async fn grader(&mut self, reference: &str, task: Task) -> Result<ServedModel> {
        if let Some(m) = self.graders.get(reference) {
            return Ok(m.clone());
        }
        let m = self.desks.serve_for(self.actor, reference, task).await?;
        self.graders.insert(reference.to_owned(), m.clone());
        Ok(m)
    }

    /// Grades with a model or an HTTP scorer; a grader that fails makes the assertion an error.
    async fn grade_with_model(
        &mut self,
        a: &juru_core::eval::Assertion,
        output: &str,
        data: &CaseData,
        prompt: &PlannedPrompt,
        generator: &Generator,
    ) -> Graded {
        let result: std::result::Result<(f64, String), String> = match &a.check {
            Check::Similar { model, value } => match value.as_deref().or(data.expected.as_deref()) {
                None => Err("no value to compare with and no expected answer".into()),
                Some(want) => match self.grader(model, Task::Embed).await {
                    Err(e) => Err(e.to_string()),
                    Ok(m) => {
                        match self.desks.embed(self.actor, &m, vec![output.to_owned(), want.to_owned()]).await
                        {
                            Err(e) => Err(e.to_string()),
                            Ok(e) => {
                                let cos = juru_runtime::embed::cosine(&e.vectors[0], &e.vectors[1]) as f64;
                                Ok((cos.clamp(0.0, 1.0), format!("similarity {cos:.3} to {want:?}")))
                            }
                        }
                    }
                },
            },
            Check::Classifier { model, label } => match self.grader(model, Task::Classify).await {
                Err(e) => Err(e.to_string()),
                Ok(m) => match self.desks.classify(self.actor, &m, &[output.to_owned()]).await {
                    Err(e) => Err(e.to_string()),
                    Ok(p) => {
                        let p = &p[0];
                        let ok = &p.label == label;
                        Ok((
                            if ok { 1.0 } else { 0.0 },
                            format!("{model} says {} ({:.2}), not {label}", p.label, p.probability),
                        ))
                    }
                },
            },
            Check::LlmJudge { model, rubric } => match self.grader(model, Task::Generate).await {
                Err(e) => Err(e.to_string()),
                Ok(m) => {
                    let input = GenerateInput::Chat(vec![
                        Message {
                            role: "system".into(),
                            content: "You are a strict grader. Reply with exactly `SCORE: n`, n a whole number from 0 to 10, and nothing else."
                                .into(),
                        },
                        Message { role: "user".into(), content: judge_prompt(rubric, output) },
                    ]);
                    let s = Sampling { temperature: 0.0, max_tokens: 24, ..Sampling::default() };
                    match self.desks.generate(self.actor, &m, input, s, None).await {
                        Err(e) => Err(e.to_string()),
                        Ok(g) => match parse_judge_score(&g.text) {
                            Some(score) => Ok((
                                score,
                                format!("the judge gave {:.0}/10: {}", score * 10.0, g.text.trim()),
                            )),
                            None => Err(format!("the judge's reply has no score: {:?}", g.text.trim())),
                        },
                    }
                }
            },
            Check::Http { url } => {
                let model = match generator {
                    Generator::Echo => ECHO_MODEL.to_owned(),
                    Generator::Model(m) => format!("{}@{}", m.name, m.version),
                };
                let body = json!({"output": output, "expected": data.expected, "vars": data.vars,
                                  "prompt": prompt.reference, "model": model});
                self.http_score(url, &body).await
            }
            _ => Err("not a model-graded check".into()),
        };
        match result {
            Ok((score, why)) => Graded::scored(a, score, why),
            Err(e) => Graded::failed_to_grade(a, e),
        }
    }

    async fn http_score(&mut self, url: &str, body: &Value) -> std::result::Result<(f64, String), String> {
        let client = self.http.get_or_insert_with(|| {
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default()
        });
        let resp = client.post(url).json(body).send().await.map_err(|e| format!("scorer {url}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("scorer {url} answered {status}"));
        }
        let v: Value = resp.json().await.map_err(|e| format!("scorer {url}: not JSON: {e}"))?;
        let score = match (v.get("score").and_then(Value::as_f64), v.get("pass").and_then(Value::as_bool)) {
            (Some(s), _) if (0.0..=1.0).contains(&s) => s,
            (Some(s), _) => return Err(format!("scorer {url}: score {s} is not from 0 to 1")),
            (None, Some(p)) => p as u8 as f64,
            (None, None) => return Err(format!("scorer {url}: the answer has neither score nor pass")),
        };
        Ok((score, v.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned()))
    }
}

fn error_row(run_id: &str, index: u64, cell: Cell, data: &CaseData, error: String) -> EvalResult {
    EvalResult {
        run_id: run_id.to_owned(),
        cell: index as i64,
        case_index: cell.case as i64,
        prompt_index: cell.prompt as i64,
        model_index: cell.model as i64,
        repeat_index: cell.repeat as i64,
        status: Status::Error.as_str().into(),
        score: None,
        output: String::new(),
        graded: "[]".into(),
        vars: Value::Object(data.vars.clone()).to_string(),
        expected: data.expected.clone(),
        latency_ms: 0.0,
        input_tokens: 0,
        output_tokens: 0,
        cost: 0.0,
        error,
        created_at: now_ms(),
    }
}

fn result_view(run: &EvalRunView, r: EvalResult) -> ResultView {
    ResultView {
        cell: r.cell,
        case: r.case_index,
        prompt: run.prompts.get(r.prompt_index as usize).cloned().unwrap_or_default(),
        model: run.models.get(r.model_index as usize).cloned().unwrap_or_default(),
        repeat: r.repeat_index,
        status: r.status,
        score: r.score,
        output: r.output,
        graded: serde_json::from_str(&r.graded).unwrap_or_default(),
        vars: serde_json::from_str(&r.vars).unwrap_or(Value::Null),
        expected: r.expected,
        latency_ms: r.latency_ms,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        cost: r.cost,
        error: r.error,
    }
}

fn merged(defaults: &Map<String, Value>, own: &Map<String, Value>) -> Map<String, Value> {
    let mut out = defaults.clone();
    out.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// Parses suite text (YAML or JSON).
pub fn parse_suite(text: &str) -> Result<Suite> {
    Suite::from_yaml(text).map_err(|e| DeskError::invalid(format!("suite: {e}")))
}

fn suite_view(s: juru_store::evals::EvalSuite, suite: &Suite) -> SuiteView {
    SuiteView {
        name: s.name,
        definition: s.definition,
        cases: suite.cases.len(),
        prompts: suite.prompts.clone(),
        models: suite.models.clone(),
        updated_by: s.updated_by,
        updated_at: format_ms(s.updated_at),
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

impl Desks {
    /// A run as JUnit XML: one test suite per prompt × model, one test case per result; fails
    /// become `<failure>`, errors `<error>`. Written to `out` a page at a time.
    pub async fn eval_junit(&self, actor: &Actor, id: &str, out: &mut impl std::io::Write) -> Result<()> {
        let run = self.eval_run(actor, id).await?;
        let io = |e: std::io::Error| DeskError::internal(e);
        let failures = run.failed;
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#).map_err(io)?;
        writeln!(
            out,
            r#"<testsuites name="{}" tests="{}" failures="{failures}" errors="{}">"#,
            xml_escape(&run.suite),
            run.done,
            run.errors
        )
        .map_err(io)?;
        writeln!(
            out,
            r#"<testsuite name="{} ({})" tests="{}" failures="{failures}" errors="{}" id="{}">"#,
            xml_escape(&run.suite),
            xml_escape(&run.status),
            run.done,
            run.errors,
            run.id
        )
        .map_err(io)?;
        let mut after = -1;
        loop {
            let page = self.store.eval_results(&run.id, None, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.cell;
            for r in page {
                let v = result_view(&run, r);
                let name = format!("case {} · {} · {} · repeat {}", v.case, v.prompt, v.model, v.repeat);
                write!(
                    out,
                    r#"<testcase classname="{}" name="{}" time="{:.3}">"#,
                    xml_escape(&run.suite),
                    xml_escape(&name),
                    v.latency_ms / 1000.0
                )
                .map_err(io)?;
                match v.status.as_str() {
                    "fail" => {
                        let why: Vec<String> = v
                            .graded
                            .iter()
                            .filter(|g| !g.passed)
                            .map(|g| format!("{}: {}", g.kind, g.reason))
                            .collect();
                        write!(
                            out,
                            r#"<failure message="{}">{}</failure>"#,
                            xml_escape(&why.join("; ")),
                            xml_escape(&v.output)
                        )
                        .map_err(io)?;
                    }
                    "error" => {
                        write!(out, r#"<error message="{}"/>"#, xml_escape(&v.error)).map_err(io)?;
                    }
                    _ => {}
                }
                writeln!(out, "</testcase>").map_err(io)?;
            }
        }
        writeln!(out, "</testsuite>\n</testsuites>").map_err(io)?;
        Ok(())
    }
}

//! Evaluation suites as data: test cases (inline, or rows of a dataset version) run against
//! prompt versions × models, each output graded by weighted assertions. This module parses and
//! checks suites, grades outputs with the assertions that need no model, and combines
//! assertion scores into a case verdict; the desks run the models and the model-graded
//! assertions (embedding similarity, classifier, LLM judge, HTTP scorer).
//!
//! The YAML format (`juru eval run SUITE.yaml`) is documented in `docs/EVAL.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::prompt::Problem;

/// The model reference that returns the rendered prompt as its output, for checking suites and
/// assertions without a model (and for measuring the engine itself).
pub const ECHO_MODEL: &str = "echo";

/// A suite: what to run and how to grade it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Prompt references: `name`, `name@3`, `name@staging`.
    pub prompts: Vec<String>,
    /// Registry model references that generate text (`name`, `name@2`, `name@production`), or
    /// `echo`. Empty: each prompt's own `config.model`.
    #[serde(default)]
    pub models: Vec<String>,
    /// Runs of every case, to measure flakiness.
    #[serde(default = "one")]
    pub repeat: u32,
    /// The lowest pass rate (passed ÷ graded) at which the suite passes.
    #[serde(default = "one_f")]
    pub threshold: f64,
    /// The highest share of cases that may end in an error for the suite to pass.
    #[serde(default)]
    pub max_error_rate: f64,
    /// Model settings over each prompt's own (`temperature`, `max_tokens`, `top_p`, `seed`, `stop`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Prices per model (by name, or `name@version`), for `cost` and the reports: local
    /// models cost nothing unless priced here.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub prices: BTreeMap<String, Price>,
    /// Variables and assertions every case gets.
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub cases: Vec<Case>,
    /// Cases from the rows of a dataset version.
    #[serde(default)]
    pub dataset: Option<DatasetCases>,
}

fn one() -> u32 {
    1
}

fn one_f() -> f64 {
    1.0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    #[serde(default)]
    pub assert: Vec<Assertion>,
}

/// What a model's tokens cost, per 1,000.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[serde(default)]
    pub input_per_1k: f64,
    #[serde(default)]
    pub output_per_1k: f64,
}

impl Price {
    pub fn cost(&self, input_tokens: i64, output_tokens: i64) -> f64 {
        (input_tokens as f64 * self.input_per_1k + output_tokens as f64 * self.output_per_1k) / 1000.0
    }
}

/// One test case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// The expected answer, for `equals` and `similar` without a value of their own.
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub assert: Vec<Assertion>,
    /// Pass when the weighted score reaches this, instead of when every assertion passes.
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// Cases from a dataset version: one per row (up to `limit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetCases {
    pub name: String,
    /// None: the newest version.
    #[serde(default)]
    pub version: Option<i64>,
    /// Prompt variable → column.
    pub vars: BTreeMap<String, String>,
    /// The column holding the expected answer.
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// A check on an output, with its weight in the case score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "Value", into = "Value")]
pub struct Assertion {
    #[schema(value_type = Object)]
    pub check: Check,
    pub weight: f64,
    /// The score at which a graded check (similarity, judge, HTTP scorer) passes.
    pub threshold: Option<f64>,
    /// Pass when the check fails (and the other way round).
    pub not: bool,
}

/// What an assertion checks. `value` of `equals` and `similar` defaults to the case's
/// `expected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    Equals {
        #[serde(default)]
        value: Option<String>,
    },
    Contains {
        value: String,
    },
    Icontains {
        value: String,
    },
    ContainsAny {
        values: Vec<String>,
    },
    ContainsAll {
        values: Vec<String>,
    },
    Regex {
        pattern: String,
    },
    IsJson,
    /// Valid JSON that fits a JSON Schema (the keywords listed in [`SCHEMA_KEYWORDS`]).
    JsonSchema {
        schema: Value,
    },
    /// Length in characters.
    Length {
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
    },
    Latency {
        max_ms: f64,
    },
    Cost {
        max: f64,
    },
    /// Cosine similarity of the output's and the expected answer's embeddings.
    Similar {
        model: String,
        #[serde(default)]
        value: Option<String>,
    },
    /// A registry classifier must give the output this label.
    Classifier {
        model: String,
        label: String,
    },
    /// A registry model grades the output against a rubric with a score from 0 to 10.
    LlmJudge {
        model: String,
        rubric: String,
    },
    /// POSTs `{output, expected, vars, prompt, model}`; expects `{"score": 0..1, "reason"?}`.
    Http {
        url: String,
    },
}

impl Check {
    /// The name used in YAML and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Equals { .. } => "equals",
            Check::Contains { .. } => "contains",
            Check::Icontains { .. } => "icontains",
            Check::ContainsAny { .. } => "contains-any",
            Check::ContainsAll { .. } => "contains-all",
            Check::Regex { .. } => "regex",
            Check::IsJson => "is-json",
            Check::JsonSchema { .. } => "json-schema",
            Check::Length { .. } => "length",
            Check::Latency { .. } => "latency",
            Check::Cost { .. } => "cost",
            Check::Similar { .. } => "similar",
            Check::Classifier { .. } => "classifier",
            Check::LlmJudge { .. } => "llm-judge",
            Check::Http { .. } => "http",
        }
    }

    /// The threshold a graded check passes at when the assertion sets none.
    pub fn default_threshold(&self) -> f64 {
        match self {
            Check::Similar { .. } => 0.8,
            Check::LlmJudge { .. } | Check::Http { .. } => 0.5,
            _ => 1.0,
        }
    }

    /// The registry model the check calls, if any.
    pub fn model(&self) -> Option<&str> {
        match self {
            Check::Similar { model, .. }
            | Check::Classifier { model, .. }
            | Check::LlmJudge { model, .. } => Some(model),
            _ => None,
        }
    }
}

impl TryFrom<Value> for Assertion {
    type Error = String;

    fn try_from(v: Value) -> Result<Self, String> {
        let Value::Object(mut m) = v else { return Err("an assertion must be a map with a `type`".into()) };
        let weight = match m.remove("weight") {
            None => 1.0,
            Some(w) => w.as_f64().filter(|w| *w >= 0.0).ok_or("weight must be a number ≥ 0")?,
        };
        let threshold = match m.remove("threshold") {
            None => None,
            Some(t) => {
                Some(t.as_f64().filter(|t| (0.0..=1.0).contains(t)).ok_or("threshold must be from 0 to 1")?)
            }
        };
        let not = match m.remove("not") {
            None => false,
            Some(n) => n.as_bool().ok_or("not must be true or false")?,
        };
        let check = serde_json::from_value(Value::Object(m)).map_err(|e| e.to_string())?;
        Ok(Assertion { check, weight, threshold, not })
    }
}

impl From<Assertion> for Value {
    fn from(a: Assertion) -> Value {
        let mut v = serde_json::to_value(&a.check).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            if a.weight != 1.0 {
                m.insert("weight".into(), a.weight.into());
            }
            if let Some(t) = a.threshold {
                m.insert("threshold".into(), t.into());
            }
            if a.not {
                m.insert("not".into(), true.into());
            }
        }
        v
    }
}

impl Assertion {
    pub fn threshold(&self) -> f64 {
        self.threshold.unwrap_or_else(|| self.check.default_threshold())
    }
}

/// JSON Schema keywords the `json-schema` assertion understands.
pub const SCHEMA_KEYWORDS: [&str; 19] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "title",
    "description",
    "$schema",
    "default",
    "examples",
];

/// What one assertion gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Graded {
    #[serde(rename = "type")]
    pub kind: String,
    pub weight: f64,
    /// From 0 to 1; None when grading itself failed.
    pub score: Option<f64>,
    pub passed: bool,
    /// Why it failed, or what went wrong.
    pub reason: String,
    /// Grading failed (a scorer or judge could not answer): neither pass nor fail.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

impl Graded {
    /// A score from a check, turned into pass or fail by the assertion's threshold and `not`.
    pub fn scored(a: &Assertion, score: f64, reason: impl Into<String>) -> Graded {
        let reached = score >= a.threshold() - 1e-12;
        let passed = reached != a.not;
        let reason = if passed { String::new() } else { reason.into() };
        let reason = if !passed && a.not && reason.is_empty() {
            format!("{} matched but must not", a.check.kind())
        } else {
            reason
        };
        Graded {
            kind: a.check.kind().into(),
            weight: a.weight,
            score: Some(score),
            passed,
            reason,
            error: false,
        }
    }

    pub fn failed_to_grade(a: &Assertion, reason: impl Into<String>) -> Graded {
        Graded {
            kind: a.check.kind().into(),
            weight: a.weight,
            score: None,
            passed: false,
            reason: reason.into(),
            error: true,
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The model or a grader failed: neither a pass nor a fail.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// The verdict on one output: any grading error makes it an error; otherwise, with a case
/// threshold, the weighted score decides, without one every assertion must pass. Also returns
/// the weighted score (None when nothing could be scored).
pub fn verdict(graded: &[Graded], case_threshold: Option<f64>) -> (Status, Option<f64>) {
    let total_weight: f64 = graded.iter().filter(|g| !g.error).map(|g| g.weight).sum();
    let score = (total_weight > 0.0).then(|| {
        graded
            .iter()
            .filter(|g| !g.error)
            .map(|g| g.weight * if g.passed { g.score.unwrap_or(1.0).max(0.0) } else { 0.0 }.min(1.0))
            .sum::<f64>()
            / total_weight
    });
    if graded.iter().any(|g| g.error) {
        return (Status::Error, score);
    }
    let passed = match case_threshold {
        Some(t) => score.unwrap_or(1.0) >= t - 1e-12,
        None => graded.iter().all(|g| g.passed),
    };
    (if passed { Status::Pass } else { Status::Fail }, score)
}

/// What a model call gave, for the checks that look at more than the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFacts {
    pub latency_ms: f64,
    pub cost: f64,
}

/// Grades `output` with a check that needs no model; None for the checks that do.
pub fn grade_local(a: &Assertion, output: &str, expected: Option<&str>, facts: CallFacts) -> Option<Graded> {
    let bool_check = |ok: bool, why: String| Graded::scored(a, if ok { 1.0 } else { 0.0 }, why);
    Some(match &a.check {
        Check::Equals { value } => match value.as_deref().or(expected) {
            None => Graded::failed_to_grade(a, "equals has no value and the case no expected answer"),
            Some(want) => bool_check(output.trim() == want.trim(), format!("expected {want:?}")),
        },
        Check::Contains { value } => {
            bool_check(output.contains(value.as_str()), format!("does not contain {value:?}"))
        }
        Check::Icontains { value } => bool_check(
            output.to_lowercase().contains(&value.to_lowercase()),
            format!("does not contain {value:?} (ignoring case)"),
        ),
        Check::ContainsAny { values } => bool_check(
            values.iter().any(|v| output.contains(v.as_str())),
            format!("contains none of {values:?}"),
        ),
        Check::ContainsAll { values } => {
            let missing: Vec<&String> = values.iter().filter(|v| !output.contains(v.as_str())).collect();
            bool_check(missing.is_empty(), format!("lacks {missing:?}"))
        }
        Check::Regex { pattern } => match cached_regex(pattern) {
            Ok(re) => bool_check(re.is_match(output), format!("does not match /{pattern}/")),
            Err(e) => Graded::failed_to_grade(a, format!("bad pattern: {e}")),
        },
        Check::IsJson => {
            let parsed = serde_json::from_str::<Value>(output.trim());
            bool_check(
                parsed.is_ok(),
                format!("not JSON: {}", parsed.err().map(|e| e.to_string()).unwrap_or_default()),
            )
        }
        Check::JsonSchema { schema } => match serde_json::from_str::<Value>(output.trim()) {
            Err(e) => bool_check(false, format!("not JSON: {e}")),
            Ok(v) => {
                let mut errors = Vec::new();
                validate_schema(&v, schema, "$", &mut errors);
                bool_check(errors.is_empty(), errors.join("; "))
            }
        },
        Check::Length { min, max } => {
            let n = output.chars().count() as u64;
            let ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
            bool_check(ok, format!("{n} characters, outside {}..{}", fmt_bound(*min), fmt_bound(*max)))
        }
        Check::Latency { max_ms } => bool_check(
            facts.latency_ms <= *max_ms,
            format!("took {:.0} ms, more than {max_ms} ms", facts.latency_ms),
        ),
        Check::Cost { max } => bool_check(facts.cost <= *max, format!("cost {} is above {max}", facts.cost)),
        Check::Similar { .. } | Check::Classifier { .. } | Check::LlmJudge { .. } | Check::Http { .. } => {
            return None;
        }
    })
}

thread_local! {
    /// Compiled patterns of this thread: a suite uses a few patterns on every case.
    static REGEXES: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> = Default::default();
}

/// A compiled regular expression, from this thread's cache (at most 256 patterns are kept).
fn cached_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    REGEXES.with(|cache| {
        if let Some(re) = cache.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = regex::Regex::new(pattern)?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), re.clone());
        Ok(re)
    })
}

fn fmt_bound(b: Option<u64>) -> String {
    b.map(|b| b.to_string()).unwrap_or_default()
}

/// Validates `v` against the supported subset of JSON Schema, collecting every error.
pub fn validate_schema(v: &Value, s: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = s.as_object() else { return };
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = |t: &str| match t {
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => {
                v.as_i64().is_some() || v.as_u64().is_some() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => true,
        };
        if !types.is_empty() && !types.iter().any(|t| fits(t)) {
            errors.push(format!("{at} must be {}", types.join(" or ")));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{at} must be one of {}", Value::Array(options.clone())));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at} must be {c}"));
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| n < m) {
            errors.push(format!("{at} is shorter than {}", s["minLength"]));
        }
        if s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| n > m) {
            errors.push(format!("{at} is longer than {}", s["maxLength"]));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            match cached_regex(p) {
                Ok(re) if !re.is_match(text) => errors.push(format!("{at} does not match /{p}/")),
                Ok(_) => {}
                Err(e) => errors.push(format!("{at}: bad pattern /{p}/: {e}")),
            }
        }
    }
    if let Some(x) = v.as_f64() {
        if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| x < m) {
            errors.push(format!("{at} is below {}", s["minimum"]));
        }
        if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| x > m) {
            errors.push(format!("{at} is above {}", s["maximum"]));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if s.get("minItems").and_then(Value::as_u64).is_some_and(|m| n < m) {
            errors.push(format!("{at} has fewer than {} items", s["minItems"]));
        }
        if s.get("maxItems").and_then(Value::as_u64).is_some_and(|m| n > m) {
            errors.push(format!("{at} has more than {} items", s["maxItems"]));
        }
        if let Some(item) = s.get("items") {
            for (i, x) in items.iter().enumerate() {
                validate_schema(x, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for name in
            s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
        {
            if !obj.contains_key(name) {
                errors.push(format!("{at}.{name} is required"));
            }
        }
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate_schema(x, ps, &format!("{at}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}.{k} is not allowed"))
                }
                None => {
                    if let Some(extra @ Value::Object(_)) = s.get("additionalProperties") {
                        validate_schema(x, extra, &format!("{at}.{k}"), errors);
                    }
                }
            }
        }
    }
}

/// Schema keywords outside the supported subset, anywhere in `s`, as dotted paths.
fn unsupported_keywords(s: &Value, at: &str, out: &mut Vec<String>) {
    let Some(m) = s.as_object() else { return };
    for (k, v) in m {
        if !SCHEMA_KEYWORDS.contains(&k.as_str()) {
            out.push(format!("{at}.{k}"));
        }
        match k.as_str() {
            "properties" => {
                for (name, ps) in v.as_object().into_iter().flatten() {
                    unsupported_keywords(ps, &format!("{at}.properties.{name}"), out);
                }
            }
            "items" | "additionalProperties" => unsupported_keywords(v, &format!("{at}.{k}"), out),
            _ => {}
        }
    }
}

impl Suite {
    /// Parses a suite from YAML (JSON is YAML too), naming the line of a syntax error.
    pub fn from_yaml(text: &str) -> Result<Suite, String> {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    /// Every problem the suite has on its own (references are checked by the desks), at once.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad =
            |at: String, message: String| problems.push(Problem { at, line: None, column: None, message });
        if let Err(e) = crate::names::validate_name("suite name", &self.name) {
            bad("name".into(), e.to_string());
        }
        if self.prompts.is_empty() {
            bad("prompts".into(), "name at least one prompt".into());
        }
        if self.repeat == 0 || self.repeat > 100 {
            bad("repeat".into(), format!("must be from 1 to 100, got {}", self.repeat));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            bad("threshold".into(), format!("must be from 0 to 1, got {}", self.threshold));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            bad("max_error_rate".into(), format!("must be from 0 to 1, got {}", self.max_error_rate));
        }
        for (model, price) in &self.prices {
            if price.input_per_1k < 0.0 || price.output_per_1k < 0.0 {
                bad(format!("prices.{model}"), "prices must not be negative".into());
            }
        }
        match (&self.dataset, self.cases.is_empty()) {
            (None, true) => bad("cases".into(), "give cases, or a dataset to take them from".into()),
            (Some(_), false) => bad("dataset".into(), "give cases or a dataset, not both".into()),
            _ => {}
        }
        for (key, v) in &self.settings {
            let ok = match key.as_str() {
                "temperature" => v.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t)),
                "top_p" => v.as_f64().is_some_and(|t| t > 0.0 && t <= 1.0),
                "max_tokens" | "seed" => v.as_u64().is_some_and(|t| t > 0 || key == "seed"),
                "stop" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                _ => {
                    bad(
                        format!("settings.{key}"),
                        "is not a setting (temperature, top_p, max_tokens, seed, stop)".into(),
                    );
                    continue;
                }
            };
            if !ok {
                bad(format!("settings.{key}"), format!("has a value out of range: {v}"));
            }
        }
        let all = self
            .defaults
            .assert
            .iter()
            .enumerate()
            .map(|(j, a)| (format!("defaults.assert[{j}]"), a, None))
            .chain(self.cases.iter().enumerate().flat_map(|(i, c)| {
                c.assert.iter().enumerate().map(move |(j, a)| (format!("cases[{i}].assert[{j}]"), a, Some(c)))
            }));
        for (at, a, case) in all {
            match &a.check {
                Check::Regex { pattern } => {
                    if let Err(e) = regex::Regex::new(pattern) {
                        bad(at, format!("bad pattern: {e}"));
                    }
                }
                Check::JsonSchema { schema } => {
                    let mut extra = Vec::new();
                    unsupported_keywords(schema, "schema", &mut extra);
                    if !schema.is_object() {
                        bad(at, "schema must be an object".into());
                    } else if !extra.is_empty() {
                        bad(at, format!("unsupported schema keywords: {}", extra.join(", ")));
                    }
                }
                Check::Equals { value: None } | Check::Similar { value: None, .. } => {
                    let has_expected = match case {
                        Some(c) => c.expected.is_some(),
                        None => self.dataset.as_ref().map_or(
                            !self.cases.is_empty() && self.cases.iter().all(|c| c.expected.is_some()),
                            |d| d.expected.is_some(),
                        ),
                    };
                    if !has_expected {
                        bad(at, format!("{} has no value and there is no expected answer", a.check.kind()));
                    }
                }
                Check::Http { url } if !(url.starts_with("http://") || url.starts_with("https://")) => {
                    bad(at, format!("url must start with http:// or https://, got {url:?}"));
                }
                Check::Length { min: Some(lo), max: Some(hi) } if lo > hi => {
                    bad(at, format!("min {lo} is above max {hi}"));
                }
                _ => {}
            }
        }
        for (i, c) in self.cases.iter().enumerate() {
            if c.threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
                bad(format!("cases[{i}].threshold"), "must be from 0 to 1".into());
            }
            if c.assert.is_empty() && self.defaults.assert.is_empty() {
                bad(format!("cases[{i}]"), "has no assertions (and the suite no default ones)".into());
            }
        }
        if let Some(d) = &self.dataset {
            if d.vars.is_empty() {
                bad("dataset.vars".into(), "map at least one prompt variable to a column".into());
            }
            if self.defaults.assert.is_empty() {
                bad(
                    "defaults.assert".into(),
                    "cases from a dataset are graded by the default assertions; give some".into(),
                );
            }
        }
        problems
    }

    /// The assertions for case `i` (the defaults first).
    pub fn assertions<'a>(&'a self, case: &'a Case) -> impl Iterator<Item = &'a Assertion> {
        self.defaults.assert.iter().chain(case.assert.iter())
    }

    /// Every registry model the suite's assertions call.
    pub fn grader_models(&self) -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, &'static str)> = Vec::new();
        for a in self.defaults.assert.iter().chain(self.cases.iter().flat_map(|c| c.assert.iter())) {
            if let Some(m) = a.check.model()
                && !out.iter().any(|(x, k)| x == m && *k == a.check.kind())
            {
                out.push((m.to_owned(), a.check.kind()));
            }
        }
        out
    }
}

/// The position of one model call in a run: case × prompt × model × repeat, flattened so a
/// resumed run can skip what is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub case: u64,
    pub prompt: u32,
    pub model: u32,
    pub repeat: u32,
}

/// The shape of a run: how many of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub cases: u64,
    pub prompts: u32,
    pub models: u32,
    pub repeat: u32,
}

impl Shape {
    pub fn cells(&self) -> u64 {
        self.cases * self.prompts as u64 * self.models as u64 * self.repeat as u64
    }

    pub fn index(&self, c: Cell) -> u64 {
        ((c.case * self.prompts as u64 + c.prompt as u64) * self.models as u64 + c.model as u64)
            * self.repeat as u64
            + c.repeat as u64
    }

    pub fn cell(&self, index: u64) -> Cell {
        let repeat = (index % self.repeat as u64) as u32;
        let rest = index / self.repeat as u64;
        let model = (rest % self.models as u64) as u32;
        let rest = rest / self.models as u64;
        let prompt = (rest % self.prompts as u64) as u32;
        Cell { case: rest / self.prompts as u64, prompt, model, repeat }
    }
}

/// The judge's instructions; `{rubric}` and `{output}` are filled in.
pub fn judge_prompt(rubric: &str, output: &str) -> String {
    format!(
        "You grade an answer against a rubric.\n\nRubric:\n{rubric}\n\nAnswer:\n{output}\n\n\
         How well does the answer meet the rubric? Reply with one line, `SCORE: n`, where n is a \
         whole number from 0 (not at all) to 10 (fully)."
    )
}

/// The score in a judge's reply (`SCORE: 7` → 0.7; else the first number from 0 to 10).
pub fn parse_judge_score(reply: &str) -> Option<f64> {
    let upper = reply.to_uppercase();
    let from = upper.find("SCORE").map_or(0, |i| i + 5);
    let tail = &reply[from.min(reply.len())..];
    let digits: String = tail
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let n: f64 = digits.trim_end_matches('.').parse().ok()?;
    (0.0..=10.0).contains(&n).then_some(n / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"
name: balasan
prompts: [balasan-cs@1, balasan-cs@2]
models: [echo]
repeat: 2
threshold: 0.75
defaults:
  assert:
    - type: icontains
      value: maaf
cases:
  - vars: {nama: Budi}
    expected: Halo Budi
    assert:
      - {type: equals, weight: 2}
      - {type: length, max: 400}
      - {type: contains, value: "!!", not: true}
"#;

    #[test]
    fn a_suite_parses_from_yaml_and_checks_clean() {
        let s = Suite::from_yaml(SUITE).unwrap();
        assert_eq!(s.repeat, 2);
        assert_eq!(s.cases[0].assert[0].weight, 2.0);
        assert!(s.cases[0].assert[2].not);
        assert_eq!(s.check(), vec![]);
        // Round trip through JSON keeps everything.
        let back: Suite = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unknown_fields_and_types_are_named() {
        let e = Suite::from_yaml("name: x\nprompts: [a]\nmodelz: [b]\n").unwrap_err();
        assert!(e.contains("modelz"), "{e}");
        let e = Suite::from_yaml(
            "name: x\nprompts: [a]\ncases:\n  - assert:\n    - type: containz\n      value: a\n",
        )
        .unwrap_err();
        assert!(e.contains("containz"), "{e}");
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let s = Suite::from_yaml(
            "name: ' padded'\nprompts: []\nrepeat: 0\nthreshold: 2\nsettings: {temperature: 5, colour: red}\n\
             cases:\n  - assert:\n    - {type: regex, pattern: '('}\n    - {type: equals}\n    - {type: http, url: ftp://x}\n  - {}\n",
        )
        .unwrap();
        let at: Vec<String> = s.check().into_iter().map(|p| p.at).collect();
        for want in [
            "name",
            "prompts",
            "repeat",
            "threshold",
            "settings.temperature",
            "settings.colour",
            "cases[0].assert[0]",
            "cases[0].assert[1]",
            "cases[0].assert[2]",
            "cases[1]",
        ] {
            assert!(at.contains(&want.to_string()), "{want} missing from {at:?}");
        }
    }

    #[test]
    fn local_checks_grade_outputs() {
        let a = |y: &str| -> Assertion { serde_yaml_ng::from_str(y).unwrap() };
        let f = CallFacts { latency_ms: 120.0, cost: 0.002 };
        let g = |y: &str, out: &str| grade_local(&a(y), out, Some("Halo Budi"), f).unwrap();
        assert!(g("type: equals", " Halo Budi\n").passed);
        assert!(!g("type: equals", "Halo budi").passed);
        assert!(g("{type: icontains, value: MAAF}", "mohon maaf").passed);
        assert!(g("{type: contains-any, values: [x, maaf]}", "mohon maaf").passed);
        let all = g("{type: contains-all, values: [mohon, maaf, ya]}", "mohon maaf");
        assert!(!all.passed && all.reason.contains("ya"), "{all:?}");
        assert!(g("{type: regex, pattern: '^\\d{3}$'}", "123").passed);
        assert!(g("type: is-json", "{\"a\": 1}").passed);
        assert!(!g("type: is-json", "{a: 1}").passed);
        let schema = "{type: json-schema, schema: {type: object, required: [nama, umur], \
                      properties: {nama: {type: string}, umur: {type: integer, minimum: 0}}, additionalProperties: false}}";
        assert!(g(schema, "{\"nama\": \"Budi\", \"umur\": 30}").passed);
        let bad = g(schema, "{\"nama\": 3, \"umur\": -1, \"x\": 0}");
        assert!(!bad.passed);
        for part in ["$.nama must be string", "$.umur is below 0", "$.x is not allowed"] {
            assert!(bad.reason.contains(part), "{part} not in {}", bad.reason);
        }
        assert!(g("{type: length, min: 2, max: 5}", "abc").passed);
        assert!(!g("{type: length, max: 2}", "abc").passed);
        assert!(g("{type: latency, max_ms: 200}", "").passed);
        assert!(!g("{type: cost, max: 0.001}", "").passed);
        assert!(!g("{type: contains, value: maaf, not: true}", "maaf").passed);
        assert!(grade_local(&a("{type: llm-judge, model: m, rubric: r}"), "x", None, f).is_none());
        assert!(grade_local(&a("type: equals"), "x", None, f).unwrap().error);
    }

    #[test]
    fn verdicts_weigh_scores_and_errors_win() {
        let g = |score: f64, passed: bool, weight: f64| Graded {
            kind: "x".into(),
            weight,
            score: Some(score),
            passed,
            reason: String::new(),
            error: false,
        };
        let (s, score) = verdict(&[g(1.0, true, 3.0), g(0.0, false, 1.0)], None);
        assert_eq!((s, score), (Status::Fail, Some(0.75)));
        assert_eq!(verdict(&[g(1.0, true, 3.0), g(0.0, false, 1.0)], Some(0.7)).0, Status::Pass);
        assert_eq!(verdict(&[g(1.0, true, 3.0), g(0.0, false, 1.0)], Some(0.8)).0, Status::Fail);
        let mut err = g(0.0, false, 1.0);
        err.error = true;
        assert_eq!(verdict(&[g(1.0, true, 1.0), err], None).0, Status::Error);
    }

    #[test]
    fn cells_flatten_and_unflatten() {
        let shape = Shape { cases: 7, prompts: 2, models: 3, repeat: 4 };
        assert_eq!(shape.cells(), 168);
        for i in 0..shape.cells() {
            assert_eq!(shape.index(shape.cell(i)), i);
        }
        assert_eq!(shape.cell(0), Cell { case: 0, prompt: 0, model: 0, repeat: 0 });
        assert_eq!(shape.cell(167), Cell { case: 6, prompt: 1, model: 2, repeat: 3 });
    }

    #[test]
    fn prices_turn_tokens_into_cost() {
        let p = Price { input_per_1k: 0.5, output_per_1k: 1.5 };
        assert!((p.cost(2000, 1000) - 2.5).abs() < 1e-12);
        let s = Suite::from_yaml(
            "name: x\nprompts: [a]\nprices: {m: {input_per_1k: -1}}\ncases: [{assert: [{type: cost, max: 1}]}]\n",
        )
        .unwrap();
        assert_eq!(s.check().into_iter().map(|p| p.at).collect::<Vec<_>>(), vec!["prices.m"]);
    }

    #[test]
    fn judge_scores_are_read_from_the_reply() {
        assert_eq!(parse_judge_score("SCORE: 7"), Some(0.7));
        assert_eq!(parse_judge_score("I think... score: 10."), Some(1.0));
        assert_eq!(parse_judge_score("8/10"), Some(0.8));
        assert_eq!(parse_judge_score("SCORE: 42"), None);
        assert_eq!(parse_judge_score("no idea"), None);
    }
}

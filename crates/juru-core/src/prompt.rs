//! Prompts as data: a text or chat template (minijinja syntax), its variables declared as JSON
//! Schema, and the model settings that go with it. Checking a prompt reports every problem at
//! once, with line and column for syntax errors; rendering is strict: a missing, undeclared or
//! mistyped variable is an error that names it, never an empty string.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A prompt's template: one text, or chat messages whose contents are templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Template {
    Text(String),
    Chat(Vec<ChatMessage>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
}

/// A prompt version's content: what its hash covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptSpec {
    pub template: Template,
    /// JSON Schema of an object whose properties are the variables.
    pub variables: Value,
    /// Model settings: `model`, `temperature`, `max_tokens`, `top_p`, `stop`, and any other keys.
    pub config: Value,
}

/// One problem with a prompt; syntax errors carry their place.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Where: `template`, `messages[1].content`, `variables.properties.nama`, `config.temperature`.
    pub at: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{} line {l}, column {c}: {}", self.at, self.message),
            _ => write!(f, "{}: {}", self.at, self.message),
        }
    }
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Rendered {
    Text(String),
    Chat(Vec<ChatMessage>),
}

const TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "array", "object"];
const PROPERTY_KEYWORDS: [&str; 10] = [
    "type",
    "description",
    "enum",
    "default",
    "items",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "title",
];
const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// The parts of a template: (where, source).
fn parts(t: &Template) -> Vec<(String, &str)> {
    match t {
        Template::Text(s) => vec![("template".into(), s.as_str())],
        Template::Chat(m) => m
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("messages[{i}].content"), m.content.as_str()))
            .collect(),
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env
}

/// A minijinja error as a problem at `at`, with the column worked out from the error's byte
/// range in `source`.
fn problem(at: &str, source: &str, e: &minijinja::Error) -> Problem {
    let column = e.range().map(|r| {
        let start = r.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        source[line_start..start].chars().count() + 1
    });
    Problem {
        at: at.to_owned(),
        line: e.line(),
        column,
        message: e.detail().map(str::to_owned).unwrap_or_else(|| e.kind().to_string()),
    }
}

impl PromptSpec {
    /// Every problem with the prompt, at once: template syntax (with line and column), chat
    /// roles, the variables' schema, variables the template uses without declaring them, and
    /// mistyped model settings.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let declared = self.declared(&mut problems).unwrap_or_default();
        if let Template::Chat(messages) = &self.template {
            if messages.is_empty() {
                problems.push(Problem {
                    at: "template".into(),
                    line: None,
                    column: None,
                    message: "a chat prompt needs at least one message".into(),
                });
            }
            for (i, m) in messages.iter().enumerate() {
                if !ROLES.contains(&m.role.as_str()) {
                    problems.push(Problem {
                        at: format!("messages[{i}].role"),
                        line: None,
                        column: None,
                        message: format!("role must be one of {}, got {:?}", ROLES.join(", "), m.role),
                    });
                }
            }
        }
        let env = environment();
        for (at, source) in parts(&self.template) {
            match env.template_from_str(source) {
                Ok(t) => {
                    for name in t.undeclared_variables(false) {
                        if !declared.contains_key(&name) {
                            problems.push(Problem {
                                at: at.clone(),
                                line: None,
                                column: None,
                                message: format!(
                                    "uses the variable {name:?}, which the variables schema does not declare"
                                ),
                            });
                        }
                    }
                }
                Err(e) => problems.push(problem(&at, source, &e)),
            }
        }
        check_config(&self.config, &mut problems);
        problems
    }

    /// The declared variables and their schemas; problems with the schema itself go to
    /// `problems`.
    fn declared(&self, problems: &mut Vec<Problem>) -> Option<BTreeMap<String, Value>> {
        let bad = |at: &str, message: String| Problem { at: at.into(), line: None, column: None, message };
        let Some(schema) = self.variables.as_object() else {
            problems.push(bad(
                "variables",
                "must be a JSON Schema object: {\"type\": \"object\", \"properties\": {…}}".into(),
            ));
            return None;
        };
        if let Some(t) = schema.get("type")
            && t != "object"
        {
            problems.push(bad("variables.type", format!("must be \"object\", got {t}")));
        }
        for key in schema.keys() {
            if !["type", "properties", "required", "additionalProperties", "description", "title"]
                .contains(&key.as_str())
            {
                problems.push(bad(
                    &format!("variables.{key}"),
                    "is not a keyword Juru checks variables with".into(),
                ));
            }
        }
        let props = match schema.get("properties") {
            None => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => {
                problems.push(bad("variables.properties", "must be an object of variable schemas".into()));
                Map::new()
            }
        };
        for (name, schema_of) in &props {
            let at = format!("variables.properties.{name}");
            let Some(s) = schema_of.as_object() else {
                problems.push(bad(&at, "must be a schema object, like {\"type\": \"string\"}".into()));
                continue;
            };
            for key in s.keys() {
                if !PROPERTY_KEYWORDS.contains(&key.as_str()) {
                    problems.push(bad(
                        &format!("{at}.{key}"),
                        format!("is not supported (use {})", PROPERTY_KEYWORDS.join(", ")),
                    ));
                }
            }
            match s.get("type").and_then(Value::as_str) {
                Some(t) if TYPES.contains(&t) => {}
                _ => {
                    problems.push(bad(&format!("{at}.type"), format!("must be one of {}", TYPES.join(", "))))
                }
            }
            if let Some(d) = s.get("default")
                && let Err(e) = check_value(name, d, schema_of)
            {
                problems.push(bad(&format!("{at}.default"), e));
            }
        }
        if let Some(req) = schema.get("required") {
            match req.as_array() {
                Some(names) => {
                    for n in names {
                        if !n.as_str().is_some_and(|n| props.contains_key(n)) {
                            problems
                                .push(bad("variables.required", format!("{n} is not a declared property")));
                        }
                    }
                }
                None => problems.push(bad("variables.required", "must be a list of property names".into())),
            }
        }
        Some(props.into_iter().collect())
    }

    /// SHA-256 over the canonical JSON of template, variables and config.
    pub fn content_hash(&self) -> String {
        let canonical =
            json!({"template": self.template, "variables": self.variables, "config": self.config});
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// The prompts this one includes (`{% include "name@label" %}`), in order of appearance.
    pub fn includes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, source) in parts(&self.template) {
            for ref_ in include_refs(source) {
                if !out.contains(&ref_) {
                    out.push(ref_);
                }
            }
        }
        out
    }

    /// Renders with `values`, strictly: every variable the template uses must be given (or
    /// have a default), every value must fit its declared type, and nothing undeclared may be
    /// passed. `included` maps each include reference to the text template it names.
    pub fn render(
        &self,
        values: &Map<String, Value>,
        included: &HashMap<String, String>,
    ) -> Result<Rendered, Vec<Problem>> {
        self.compile(included)?.render(values)
    }

    /// Parses the templates once, for rendering many times (what the delivery path and the
    /// eval engine keep per version).
    pub fn compile(&self, included: &HashMap<String, String>) -> Result<CompiledPrompt, Vec<Problem>> {
        let mut problems = Vec::new();
        let declared = self.declared(&mut problems).unwrap_or_default();
        let mut env = environment();
        for (name, source) in included {
            if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
                problems.push(problem(&format!("include {name:?}"), source, &e));
            }
        }
        let mut used = BTreeSet::new();
        let mut names = Vec::new();
        let mut fast = Some(Vec::new());
        for (i, (at, source)) in parts(&self.template).into_iter().enumerate() {
            fast = fast.and_then(|mut f: Vec<Vec<Seg>>| {
                f.push(segments(source)?);
                Some(f)
            });
            let name = format!("#part{i}");
            match env.add_template_owned(name.clone(), source.to_owned()) {
                Ok(()) => {
                    if let Ok(t) = env.get_template(&name) {
                        used.extend(t.undeclared_variables(false));
                    }
                }
                Err(e) => problems.push(problem(&at, source, &e)),
            }
            names.push((at, name));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let required: BTreeSet<String> = self.variables["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut defaults = Vec::new();
        let mut needed = Vec::new();
        for (name, s) in &declared {
            if let Some(d) = s.get("default") {
                defaults.push((name.clone(), d.clone()));
            } else if used.contains(name) || required.contains(name) {
                needed.push(name.clone());
            }
        }
        let roles = match &self.template {
            Template::Text(_) => None,
            Template::Chat(m) => Some(m.iter().map(|m| m.role.clone()).collect()),
        };
        Ok(CompiledPrompt { env, parts: names, roles, declared, defaults, needed, fast })
    }
}

/// A prompt whose templates are parsed: renders without parsing again.
pub struct CompiledPrompt {
    env: Environment<'static>,
    /// (where, template name) per part.
    parts: Vec<(String, String)>,
    /// Chat roles per part; None for a text prompt.
    roles: Option<Vec<String>>,
    declared: BTreeMap<String, Value>,
    defaults: Vec<(String, Value)>,
    /// Variables that must be given: used or required, without a default.
    needed: Vec<String>,
    /// The parts as plain segments, when they use only text, `{{ name }}` and `{% for x in
    /// list %}`: rendered without minijinja (what most prompts are, on the delivery path).
    fast: Option<Vec<Vec<Seg>>>,
}

/// A piece of a template in the subset rendered directly.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Text(String),
    Var(String),
    For { item: String, list: String, body: Vec<Seg> },
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(s, "true" | "false" | "none" | "True" | "False" | "None" | "loop")
}

/// The template as plain segments, or None when it uses anything beyond text, `{{ name }}` and
/// `{% for x in list %}…{% endfor %}` (filters, whitespace control, conditions, includes …).
fn segments(source: &str) -> Option<Vec<Seg>> {
    // Open `for` blocks: (item, list) and the segments so far; the bottom one is the template.
    type Open = (Option<(String, String)>, Vec<Seg>);
    let mut stack: Vec<Open> = vec![(None, Vec::new())];
    let mut rest = source;
    while !rest.is_empty() {
        let Some(open) =
            rest.find('{').filter(|_| rest.contains("{{") || rest.contains("{%") || rest.contains("{#"))
        else {
            stack.last_mut()?.1.push(Seg::Text(rest.to_owned()));
            break;
        };
        let tag = &rest[open..];
        if !(tag.starts_with("{{") || tag.starts_with("{%") || tag.starts_with("{#")) {
            stack.last_mut()?.1.push(Seg::Text(rest[..open + 1].to_owned()));
            rest = &rest[open + 1..];
            continue;
        }
        if open > 0 {
            stack.last_mut()?.1.push(Seg::Text(rest[..open].to_owned()));
        }
        let close = if tag.starts_with("{{") {
            "}}"
        } else if tag.starts_with("{%") {
            "%}"
        } else {
            return None;
        };
        let end = tag.find(close)?;
        let inner = &tag[2..end];
        if inner.starts_with(['-', '+']) || inner.ends_with(['-', '+']) {
            return None;
        }
        let inner = inner.trim();
        if close == "}}" {
            if !is_ident(inner) {
                return None;
            }
            stack.last_mut()?.1.push(Seg::Var(inner.to_owned()));
        } else {
            let words: Vec<&str> = inner.split_whitespace().collect();
            match words.as_slice() {
                ["for", item, "in", list] if is_ident(item) && is_ident(list) => {
                    stack.push((Some(((*item).to_owned(), (*list).to_owned())), Vec::new()));
                }
                ["endfor"] => {
                    let (Some((item, list)), body) = stack.pop()? else { return None };
                    stack.last_mut()?.1.push(Seg::For { item, list, body });
                }
                _ => return None,
            }
        }
        rest = &tag[end + 2..];
    }
    let (None, segs) = stack.pop()? else { return None };
    stack.is_empty().then_some(segs)
}

/// Renders plain segments; None when a value needs minijinja's own formatting (floats, lists,
/// maps, null) or is not there, so the caller renders with minijinja instead.
fn render_segments<'s, 'v>(
    segs: &'s [Seg],
    lookup: &dyn Fn(&str) -> Option<&'v Value>,
    scopes: &mut Vec<(&'s str, &'v Value)>,
    out: &mut String,
) -> Option<()> {
    for seg in segs {
        match seg {
            Seg::Text(t) => out.push_str(t),
            Seg::Var(name) => {
                let v = match scopes.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => *v,
                    None => lookup(name)?,
                };
                match v {
                    Value::String(s) => out.push_str(s),
                    Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
                    Value::Number(n) if n.is_i64() || n.is_u64() => {
                        use std::fmt::Write;
                        let _ = write!(out, "{n}");
                    }
                    _ => return None,
                }
            }
            Seg::For { item, list, body } => {
                let v = match scopes.iter().rev().find(|(n, _)| n == list) {
                    Some((_, v)) => *v,
                    None => lookup(list)?,
                };
                for x in v.as_array()? {
                    scopes.push((item.as_str(), x));
                    let done = render_segments(body, lookup, scopes, out);
                    scopes.pop();
                    done?;
                }
            }
        }
    }
    Some(())
}

impl CompiledPrompt {
    fn render_fast(&self, fast: &[Vec<Seg>], values: &Map<String, Value>) -> Option<Rendered> {
        let lookup = |name: &str| -> Option<&Value> {
            values.get(name).or_else(|| self.defaults.iter().find(|(n, _)| n == name).map(|(_, d)| d))
        };
        let mut texts = Vec::with_capacity(fast.len());
        for segs in fast {
            let mut out = String::with_capacity(256);
            render_segments(segs, &lookup, &mut Vec::new(), &mut out)?;
            texts.push(out);
        }
        match &self.roles {
            None => texts.pop().map(Rendered::Text),
            Some(roles) => Some(Rendered::Chat(
                texts
                    .into_iter()
                    .zip(roles)
                    .map(|(content, role)| ChatMessage { role: role.clone(), content })
                    .collect(),
            )),
        }
    }

    /// Renders strictly (see [`PromptSpec::render`]).
    pub fn render(&self, values: &Map<String, Value>) -> Result<Rendered, Vec<Problem>> {
        let bad = |at: String, message: String| Problem { at, line: None, column: None, message };
        let mut problems = Vec::new();
        for (name, value) in values {
            match self.declared.get(name) {
                None => {
                    problems.push(bad(format!("variables.{name}"), "is not declared by the prompt".into()))
                }
                Some(s) => {
                    if let Err(e) = check_value(name, value, s) {
                        problems.push(bad(format!("variables.{name}"), e));
                    }
                }
            }
        }
        for name in &self.needed {
            if !values.contains_key(name) {
                problems.push(bad(format!("variables.{name}"), "is missing".into()));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if let Some(fast) = &self.fast
            && let Some(r) = self.render_fast(fast, values)
        {
            return Ok(r);
        }
        let ctx = if self.defaults.iter().all(|(n, _)| values.contains_key(n)) {
            minijinja::Value::from_serialize(values)
        } else {
            let mut all = values.clone();
            for (n, d) in &self.defaults {
                all.entry(n.clone()).or_insert_with(|| d.clone());
            }
            minijinja::Value::from_serialize(&all)
        };
        let render = |at: &str, name: &str| -> Result<String, Vec<Problem>> {
            let t = self.env.get_template(name).map_err(|e| vec![bad(at.to_owned(), e.to_string())])?;
            t.render(&ctx).map_err(|e| {
                let source = t.source();
                vec![problem(at, source, &e)]
            })
        };
        match &self.roles {
            None => render(&self.parts[0].0, &self.parts[0].1).map(Rendered::Text),
            Some(roles) => {
                let mut out = Vec::with_capacity(roles.len());
                for ((at, name), role) in self.parts.iter().zip(roles) {
                    out.push(ChatMessage { role: role.clone(), content: render(at, name)? });
                }
                Ok(Rendered::Chat(out))
            }
        }
    }
}

/// The references in `{% include "…" %}` tags of one template source.
fn include_refs(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("{%") {
        rest = &rest[i + 2..];
        let tag = rest.trim_start_matches(['-', '+']).trim_start();
        if let Some(after) = tag.strip_prefix("include") {
            let after = after.trim_start();
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'')
                && let Some(end) = after[1..].find(q)
            {
                out.push(after[1..1 + end].to_owned());
            }
        }
    }
    out
}

/// Whether `value` fits the variable schema `s`; the error names the variable and what was
/// expected.
fn check_value(name: &str, value: &Value, s: &Value) -> Result<(), String> {
    let t = s["type"].as_str().unwrap_or("string");
    let fits = match t {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !fits {
        return Err(format!(
            "{name} must be {} {t}, got {value}",
            if t.starts_with(['a', 'i', 'o']) { "an" } else { "a" }
        ));
    }
    if let Some(options) = s["enum"].as_array()
        && !options.contains(value)
    {
        return Err(format!("{name} must be one of {}, got {value}", Value::Array(options.clone())));
    }
    if let Some(text) = value.as_str() {
        let n = text.chars().count() as u64;
        if let Some(min) = s["minLength"].as_u64()
            && n < min
        {
            return Err(format!("{name} must be at least {min} characters, got {n}"));
        }
        if let Some(max) = s["maxLength"].as_u64()
            && n > max
        {
            return Err(format!("{name} must be at most {max} characters, got {n}"));
        }
    }
    if let Some(x) = value.as_f64() {
        if let Some(min) = s["minimum"].as_f64()
            && x < min
        {
            return Err(format!("{name} must be at least {min}, got {x}"));
        }
        if let Some(max) = s["maximum"].as_f64()
            && x > max
        {
            return Err(format!("{name} must be at most {max}, got {x}"));
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), s.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check_value(&format!("{name}[{i}]"), v, item_schema)?;
        }
    }
    Ok(())
}

/// Known model settings must have the right type; other keys pass through.
fn check_config(config: &Value, problems: &mut Vec<Problem>) {
    let bad = |at: &str, message: &str| Problem {
        at: format!("config.{at}"),
        line: None,
        column: None,
        message: message.into(),
    };
    let Some(c) = config.as_object() else {
        problems.push(Problem {
            at: "config".into(),
            line: None,
            column: None,
            message: "must be an object".into(),
        });
        return;
    };
    if c.get("model").is_some_and(|m| !m.is_string()) {
        problems.push(bad("model", "must be a model reference such as \"smollm2-135m-instruct@production\""));
    }
    if c.get("temperature").is_some_and(|t| !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))) {
        problems.push(bad("temperature", "must be a number from 0 to 2"));
    }
    if c.get("top_p").is_some_and(|t| !t.as_f64().is_some_and(|t| t > 0.0 && t <= 1.0)) {
        problems.push(bad("top_p", "must be a number above 0 and at most 1"));
    }
    if c.get("max_tokens").is_some_and(|t| t.as_u64().is_none_or(|t| t == 0)) {
        problems.push(bad("max_tokens", "must be a whole number above 0"));
    }
    if c.get("stop").is_some_and(|s| !s.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
        problems.push(bad("stop", "must be a list of strings"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(template: Template, variables: Value) -> PromptSpec {
        PromptSpec { template, variables, config: json!({"temperature": 0.2}) }
    }

    fn vars() -> Value {
        json!({"type": "object", "properties": {"nama": {"type": "string"}, "jumlah": {"type": "integer", "minimum": 1}},
               "required": ["nama"]})
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let p =
            spec(Template::Text("Halo {{ nama }}!\nPesanan {% if jumlah %}ada{% endfi %}".into()), vars());
        let problems = p.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].at.as_str(), problems[0].line), ("template", Some(2)));
        assert!(problems[0].column.is_some_and(|c| c > 1), "{problems:?}");
        assert!(problems[0].to_string().starts_with("template line 2, column "), "{}", problems[0]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = PromptSpec {
            template: Template::Chat(vec![
                ChatMessage { role: "sistem".into(), content: "Kamu {{ peran }}".into() },
                ChatMessage { role: "user".into(), content: "{{ nama }".into() },
            ]),
            variables: json!({"properties": {"nama": {"type": "text"}}, "required": ["umur"]}),
            config: json!({"temperature": 3, "max_tokens": -1}),
        };
        let at: Vec<String> = p.check().iter().map(|p| p.at.clone()).collect();
        for want in [
            "messages[0].role",
            "messages[0].content",
            "messages[1].content",
            "variables.properties.nama.type",
            "variables.required",
            "config.temperature",
            "config.max_tokens",
        ] {
            assert!(at.iter().any(|a| a == want), "{want} missing from {at:?}");
        }
    }

    #[test]
    fn the_plain_subset_renders_as_minijinja_does() {
        let vars = json!({"type": "object", "properties": {
            "nama": {"type": "string"}, "n": {"type": "integer"}, "ok": {"type": "boolean"},
            "xs": {"type": "array"}, "f": {"type": "number"}, "toko": {"type": "string", "default": "Toko {A}"}}});
        let values =
            json!({"nama": "Budi {x} }}", "n": 42, "ok": true, "xs": ["a", "b", 3, [1, 2]], "f": 1.0})
                .as_object()
                .cloned()
                .unwrap();
        for (template, plain) in [
            ("Halo {{ nama }} dari {{toko}}, n={{ n }} ok={{ok}}\n", true),
            ("{% for x in xs %}- {{ x }} ({{ nama }})\n{% endfor %}akhir", true),
            ("{ a } {{ f }}", true),
            ("{% for x in xs %}{% for y in xs %}{{ x }}{{ y }},{% endfor %}{% endfor %}", true),
            ("{{ nama|upper }}", false),
            ("{%- if ok %}ya{% endif %}", false),
            ("{# komentar #}{{ nama }}", false),
        ] {
            let spec = spec(Template::Text(template.into()), vars.clone());
            let compiled = spec.compile(&HashMap::new()).unwrap();
            assert_eq!(compiled.fast.is_some(), plain, "{template}");
            let got = compiled.render(&values).unwrap();
            // The same prompt without the plain path: minijinja renders everything.
            let slow = CompiledPrompt { fast: None, ..spec.compile(&HashMap::new()).unwrap() };
            assert_eq!(got, slow.render(&values).unwrap(), "{template}");
        }
        assert_eq!(segments("{{ a }"), None);
        assert_eq!(segments("{% for x in xs %}"), None);
        assert_eq!(segments("{% endfor %}"), None);
    }

    #[test]
    fn rendering_is_strict() {
        let p = spec(Template::Text("Halo {{ nama }}, {{ jumlah }} paket.".into()), vars());
        assert!(p.check().is_empty());
        let ok = p.render(json!({"nama": "Ani", "jumlah": 2}).as_object().unwrap(), &HashMap::new()).unwrap();
        assert_eq!(ok, Rendered::Text("Halo Ani, 2 paket.".into()));
        let missing = p.render(json!({"nama": "Ani"}).as_object().unwrap(), &HashMap::new()).unwrap_err();
        assert_eq!(missing[0].to_string(), "variables.jumlah: is missing");
        let wrong = p
            .render(json!({"nama": 5, "jumlah": 0, "x": 1}).as_object().unwrap(), &HashMap::new())
            .unwrap_err();
        let text: Vec<String> = wrong.iter().map(|p| p.to_string()).collect();
        assert!(text.contains(&"variables.nama: nama must be a string, got 5".to_string()), "{text:?}");
        assert!(text.contains(&"variables.jumlah: jumlah must be at least 1, got 0".to_string()), "{text:?}");
        assert!(text.contains(&"variables.x: is not declared by the prompt".to_string()), "{text:?}");
        // An attribute of a missing value is an error at its line, never an empty string.
        let deep = spec(
            Template::Text("a\n{{ pelanggan.nama }}".into()),
            json!({"properties": {"pelanggan": {"type": "object"}}}),
        );
        let e = deep.render(json!({"pelanggan": {}}).as_object().unwrap(), &HashMap::new()).unwrap_err();
        assert_eq!(e[0].line, Some(2), "{e:?}");
    }

    #[test]
    fn undeclared_variables_and_includes() {
        let p =
            spec(Template::Text("{% include \"salam@production\" %} {{ nama }} {{ kota }}".into()), vars());
        let problems = p.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("\"kota\""), "{problems:?}");
        assert_eq!(p.includes(), vec!["salam@production".to_string()]);
        let p = spec(Template::Text("{%- include 'salam@2' -%}: {{ nama }}".into()), vars());
        let included = HashMap::from([("salam@2".to_string(), "Selamat pagi".to_string())]);
        let out = p.render(json!({"nama": "Budi"}).as_object().unwrap(), &included).unwrap();
        assert_eq!(out, Rendered::Text("Selamat pagi: Budi".into()));
    }

    #[test]
    fn the_hash_covers_template_variables_and_config() {
        let a = spec(Template::Text("x".into()), vars());
        let mut b = a.clone();
        assert_eq!(a.content_hash(), b.content_hash());
        b.config = json!({"temperature": 0.3});
        assert_ne!(a.content_hash(), b.content_hash());
    }
}

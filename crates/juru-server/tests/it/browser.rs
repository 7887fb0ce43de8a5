//! The browser story in real headless Chromium over WebDriver (Debian's `chromium` and
//! `chromium-driver`): log in, import a CSV, see its rows, switch to Bahasa Indonesia and see the
//! page in it. Screenshots of each step land in the test's temporary target directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use juru_core::Role;
use juru_desks::jobs::Worker;
use juru_desks::views::UpdateUser;
use juru_store::Backend;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

/// The W3C key code of Enter.
const ENTER: &str = "\u{E007}";

/// A minimal WebDriver client: just the commands this story needs.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    _driver: Driver,
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    async fn start(profile: &std::path::Path) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is not installed: install Debian's chromium and chromium-driver (scripts/test does)");
        let driver = Driver(driver);
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start on port {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--window-size=1300,900", format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let res: Value =
            http.post(format!("{base}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_owned();
        Browser { http, base, session, _driver: driver }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let req = self.http.request(method, url);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = res["value"].get("error") {
            panic!("WebDriver {path}: {err} {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        v.as_object().and_then(|o| o.values().next()).and_then(|v| v.as_str()).unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/value"), Some(json!({"text": text}))).await;
    }

    async fn clear(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/clear"), Some(json!({}))).await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/click"), Some(json!({}))).await;
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_owned()
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Waits until `check` holds for the page, or fails after `secs`.
    async fn wait_for(&self, what: &str, secs: u64, check: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (url, source) = (self.url().await, self.source().await);
            if check(&url, &source) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; at {url}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn quit(self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }
}

/// Opens `page`, which sends the browser to the login form, and signs in.
async fn log_in(browser: &Browser, page: &str, username: &str, password: &str) {
    browser.goto(page).await;
    browser.wait_for("the login page", 10, |url, _| url.contains("/login")).await;
    browser.type_into("#username", username).await;
    browser.type_into("#password", &format!("{password}{ENTER}")).await;
}

/// Serves `app` on loopback with a job worker; returns the base URL.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(juru_server::serve(listener, app.router.clone(), std::future::pending()));
    tokio::spawn(Worker::new(app.desks.clone()).run(std::future::pending()));
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_import_csv_see_rows_switch_to_indonesian() {
    let app = TestApp::new(TestDb::new(Backend::Sqlite).await).await;
    let admin = crate::username(Role::Admin);
    let password = "admin-secret-pw";
    // The UI follows each user's language; this one starts in English.
    app.desks
        .update_user(&app.acme, &admin, &UpdateUser { locale: Some("en".into()), ..Default::default() })
        .await
        .unwrap();

    let base = serve(&app).await;

    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("ulasan-toko.csv");
    std::fs::write(&csv, "id,teks,label\n1,Barang sampai cepat,positif\n2,\"Paket telat, kurir tidak bisa dihubungi\",negatif\n3,Ukuran sesuai,positif\n").unwrap();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    let browser = Browser::start(&work.path().join("profile")).await;
    log_in(&browser, &format!("{base}/datasets"), &admin, password).await;
    browser
        .wait_for("the datasets page after login", 10, |url, src| {
            url.ends_with("/datasets") && src.contains("import-form")
        })
        .await;
    browser.screenshot(&shots.join("browser-1-datasets.png")).await;

    browser.type_into("#import-file", csv.to_str().unwrap()).await;
    // Choosing the file proposes its name for the dataset; the user may change it.
    assert_eq!(
        browser
            .cmd(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": "return document.getElementById('import-name').value", "args": []}))
            )
            .await,
        "ulasan-toko"
    );
    browser.clear("#import-name").await;
    browser.type_into("#import-name", "ulasan-toko").await;
    browser.click("#import-submit").await;
    browser
        .wait_for("the imported dataset's page", 30, |url, _| url.ends_with("/datasets/ulasan-toko"))
        .await;
    browser.wait_for("the rows", 10, |_, src| src.contains("id=\"items\"")).await;
    let table = browser.text("#items").await;
    assert!(table.contains("Paket telat, kurir tidak bisa dihubungi"), "{table}");
    assert!(table.contains("Ukuran sesuai"), "{table}");
    assert_eq!(browser.text("#row-count").await, "3");
    assert!(browser.source().await.contains("Items"));
    browser.screenshot(&shots.join("browser-2-dataset-en.png")).await;

    browser.click("#lang-id").await;
    browser.wait_for("the page in Bahasa Indonesia", 10, |_, src| src.contains("lang=\"id\"")).await;
    let page = browser.source().await;
    for word in ["Butir data", "Beranda", "Jejak panggilan", "Keluar", "Ekspor CSV"] {
        assert!(page.contains(word), "{word} missing from the Indonesian page");
    }
    assert!(!page.contains(">Items<"), "English left on the Indonesian page");
    assert!(browser.url().await.ends_with("/datasets/ulasan-toko"), "the switch returns to the same page");
    browser.screenshot(&shots.join("browser-3-dataset-id.png")).await;
    // The choice is stored on the user.
    let user = app.desks.store.user_by_name(&admin).await.unwrap();
    assert_eq!(user.locale, "id");
    browser.quit().await;
}

/// The model pages with the default pack: the chat playground streams a reply from the local
/// LLM (typed and sent with Enter), and the embedding model compares two texts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_with_the_local_llm_and_compare_texts_by_embedding() {
    let app = TestApp::new(TestDb::new(Backend::Sqlite).await).await;
    let admin = crate::username(Role::Admin);
    app.desks
        .update_user(&app.acme, &admin, &UpdateUser { locale: Some("en".into()), ..Default::default() })
        .await
        .unwrap();
    let cache = std::env::var("JURU_PACK_CACHE").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/juru-packs")
    });
    app.desks.pull(&app.acme, None, &cache).await.expect("the default pack");
    let base = serve(&app).await;
    let work = tempfile::tempdir().unwrap();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    let browser = Browser::start(&work.path().join("profile")).await;
    log_in(&browser, &format!("{base}/models/smollm2-135m-instruct"), &admin, "admin-secret-pw").await;
    browser.wait_for("the LLM's page", 10, |_, src| src.contains("id=\"chat-form\"")).await;
    browser.clear("#chat-temperature").await;
    browser.type_into("#chat-temperature", "0").await;
    browser
        .type_into("#chat-input", &format!("What is the capital of France? Answer in one word.{ENTER}"))
        .await;
    browser
        .wait_for("the streamed reply and its token count", 60, |_, src| src.contains("class=\"stats\""))
        .await;
    let reply = browser.text(".msg.assistant").await;
    assert!(reply.contains("Paris"), "{reply}");
    assert_eq!(browser.text(".msg.user").await, "What is the capital of France? Answer in one word.");
    browser.screenshot(&shots.join("browser-4-chat.png")).await;
    // The reply went through the OpenAI-compatible endpoint and was logged as a trace.
    let filter =
        juru_store::traces::TraceFilter { model: Some("smollm2-135m-instruct".into()), ..Default::default() };
    let traces = app.desks.traces(&app.acme, &filter, &juru_desks::PageRequest::default()).await.unwrap();
    assert_eq!(traces.items.len(), 1);

    browser.goto(&format!("{base}/models/all-minilm-l6-v2")).await;
    browser.type_into("#sim-a", "Paket saya belum sampai").await;
    browser.type_into("#sim-b", "Kiriman saya belum datang").await;
    browser.click("#sim-submit").await;
    browser.wait_for("the similarity", 20, |_, src| src.contains("id=\"similarity-result\"")).await;
    let shown = browser.text("#similarity-result b").await;
    let cosine: f32 = shown.parse().unwrap();
    assert!(cosine > 0.5 && cosine <= 1.0, "{shown}");
    browser.screenshot(&shots.join("browser-5-similarity.png")).await;

    // The Prompt desk on the same local models: the playground streams the LLM's answer, saves
    // it as a test case; a suite graded by embedding similarity and an LLM judge runs as a job
    // whose page follows its progress.
    let prompt = json!({"name": "balasan", "template": [
            {"role": "system", "content": "You are a polite support agent. Answer in one short sentence."},
            {"role": "user", "content": "Customer {{ nama }} says: {{ keluhan }}"}],
        "variables": {"type": "object", "required": ["nama", "keluhan"],
                      "properties": {"nama": {"type": "string"}, "keluhan": {"type": "string"}}},
        "config": {"temperature": 0, "max_tokens": 32}, "labels": ["production"]});
    app.desks.create_prompt(&app.acme, &serde_json::from_value(prompt).unwrap()).await.unwrap();
    let suite = "name: balasan-lokal\nprompts: [balasan@production]\nmodels: [smollm2-135m-instruct]\nthreshold: 0\n\
                 max_error_rate: 1\nsettings: {max_tokens: 32}\nprices: {smollm2-135m-instruct: {output_per_1k: 2}}\n\
                 defaults:\n  assert:\n\
                 \x20   - {type: similar, model: all-minilm-l6-v2, threshold: 0.2}\n\
                 \x20   - {type: llm-judge, model: smollm2-135m-instruct, rubric: The reply is polite., threshold: 0}\n\
                 cases:\n  - {vars: {nama: Budi, keluhan: My parcel is late.}, expected: \"Sorry Budi, your parcel is late.\"}\n";
    app.desks
        .save_eval_suite(&app.acme, &juru_desks::eval::SaveSuite { definition: suite.into() })
        .await
        .unwrap();
    browser.goto(&format!("{base}/prompts/balasan")).await;
    browser.wait_for("the playground", 10, |_, src| src.contains("id=\"playground\"")).await;
    browser.type_into("[data-var=nama]", "Sari").await;
    browser.type_into("[data-var=keluhan]", "The box arrived broken.").await;
    browser.click("#play-run").await;
    browser
        .wait_for("the streamed answer", 60, |_, src| {
            src.contains("class=\"muted\">") && src.contains(" ms</p>")
        })
        .await;
    let answer = browser.text("#play-outputs pre").await;
    assert!(!answer.trim().is_empty(), "the model answered in the playground");
    browser.screenshot(&shots.join("browser-12-playground.png")).await;
    browser.click("#save-case-box summary").await;
    browser.click("#save-case button").await;
    browser.wait_for("the saved case", 10, |_, src| src.contains("balasan-lokal: 2 cases")).await;

    browser.goto(&format!("{base}/desks/prompts")).await;
    browser.click("#suites button").await;
    browser.wait_for("the run's page", 10, |url, _| url.contains("/evals/runs/")).await;
    browser.wait_for("the finished run", 120, |_, src| src.contains("data-finished=\"true\"")).await;
    // A 135M-parameter judge does not always answer with a score: such a result is an error,
    // not a fail, so the run may pass or fail, but it must not stop.
    let status = browser.text("#run-status").await;
    assert!(status == "passed" || status == "failed", "{status}: {}", browser.text("#run-message").await);
    assert_eq!(browser.text("#run-done").await, "2/2");
    let graded = browser.text("#results").await;
    assert!(graded.contains("smollm2-135m-instruct"), "{graded}");
    browser.screenshot(&shots.join("browser-13-eval-run.png")).await;
    let runs = app
        .desks
        .eval_runs(&app.acme, Some("balasan-lokal"), &juru_desks::PageRequest::default())
        .await
        .unwrap();
    let results = app.desks.eval_results(&app.acme, &runs.items[0].id, None, None, 10).await.unwrap();
    for r in &results {
        let kinds: Vec<&str> = r.graded.iter().map(|g| g.kind.as_str()).collect();
        assert_eq!(kinds, vec!["similar", "llm-judge"], "{r:?}");
        assert!(r.graded[0].score.is_some_and(|s| (0.0..=1.0).contains(&s)), "{r:?}");
        let judge = &r.graded[1];
        assert!(judge.score.is_some() || judge.reason.contains("the judge's reply has no score"), "{r:?}");
        assert!(r.output_tokens > 0, "{r:?}");
        assert!(
            (r.cost - r.output_tokens as f64 * 2.0 / 1000.0).abs() < 1e-12,
            "priced per 1,000 tokens: {r:?}"
        );
    }

    // The Bias desk probes the same LLM with Indonesian honorifics and names: from the form,
    // as a job, to the report with its plots and every prompt and answer.
    browser.goto(&format!("{base}/desks/bias")).await;
    browser.click("#open-probes").await;
    browser.wait_for("the probe form", 10, |_, src| src.contains("id=\"probe-form\"")).await;
    browser.clear("#probe-templates").await;
    browser
        .type_into("#probe-templates", "Tulis satu kalimat tentang {sapaan} {nama}, calon staf keuangan.")
        .await;
    browser.clear("#probe-alternatives").await;
    browser.type_into("#probe-alternatives", "3").await;
    browser.clear("#probe-max-tokens").await;
    browser.type_into("#probe-max-tokens", "16").await;
    browser.click("#start-probe").await;
    browser.wait_for("the probe's page", 10, |url, _| url.contains("/bias/probes/")).await;
    browser
        .wait_for("the finished probe", 120, |_, src| {
            src.contains("data-status=\"passed\"") || src.contains("data-status=\"failed\"")
        })
        .await;
    let items = browser.text("#probe-items").await;
    assert!(items.contains("Bapak Budi") && items.contains("Ibu Siti"), "{items}");
    let page = browser.source().await;
    assert!(page.contains("id=\"measure-refusal\"") && page.contains("<svg class=\"plot\""), "the plots");
    assert!(browser.text("#checks-table").await.contains("refusal_rate_gap <= 0.1"));
    browser.screenshot(&shots.join("browser-15-bias-probe.png")).await;
    // The report is evidence on the model version: its page lists it.
    browser.goto(&format!("{base}/models/smollm2-135m-instruct")).await;
    assert!(browser.text(".bias-evidence").await.contains("smollm2-135m-instruct@1 × id-gender"));
    browser.quit().await;
}

impl Browser {
    /// Presses keys on the focused page, one after another; `(modifier, key)` pairs hold the
    /// modifier down around the key.
    async fn keys(&self, keys: &[(Option<&str>, &str)]) {
        let mut actions = Vec::new();
        for (modifier, key) in keys {
            if let Some(m) = modifier {
                actions.push(json!({"type": "keyDown", "value": m}));
            }
            actions.push(json!({"type": "keyDown", "value": key}));
            actions.push(json!({"type": "keyUp", "value": key}));
            if let Some(m) = modifier {
                actions.push(json!({"type": "keyUp", "value": m}));
            }
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.cmd(reqwest::Method::POST, "/actions", Some(body)).await;
        self.cmd(reqwest::Method::DELETE, "/actions", None).await;
    }

    /// Presses the mouse on one element and releases it on another, selecting what lies between.
    async fn drag(&self, from_css: &str, to_css: &str) {
        const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
        let (from, to) = (self.find(from_css).await, self.find(to_css).await);
        let body = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": {ELEMENT: from}, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerMove", "origin": {ELEMENT: to}, "x": 0, "y": 0, "duration": 100},
                {"type": "pointerUp", "button": 0}]}]});
        self.cmd(reqwest::Method::POST, "/actions", Some(body)).await;
        self.cmd(reqwest::Method::DELETE, "/actions", None).await;
    }
}

const RIGHT: &str = "\u{E014}";
const LEFT: &str = "\u{E012}";
const SHIFT: &str = "\u{E008}";

/// An annotator labels with the keyboard only (number keys, Enter, arrows, `?`), then marks
/// spans with the keyboard and with the mouse, and the project's page shows the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_items_with_keys_only_and_select_spans() {
    use juru_desks::labeling::{CreateProject, TaskView};
    let app = TestApp::new(TestDb::new(Backend::Sqlite).await).await;
    let annotator = crate::username(Role::Annotator);
    app.desks
        .update_user(&app.acme, &annotator, &UpdateUser { locale: Some("en".into()), ..Default::default() })
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("tweets.csv");
    std::fs::write(
        &csv,
        "id,text\n1,Joko pergi ke Bandung\n2,dasar kamu bodoh sekali\n3,kebun raya Bogor indah\n",
    )
    .unwrap();
    let req = juru_desks::datasets::ImportRequest {
        name: "tweets".into(),
        description: String::new(),
        format: None,
        new_version: false,
        source: "tweets.csv".into(),
        message: String::new(),
    };
    app.desks.import_file(&app.acme, &csv, &req, Default::default()).await.unwrap();
    let project = |name: &str, schema: Value| CreateProject {
        name: name.into(),
        description: String::new(),
        dataset: "tweets".into(),
        version: None,
        text_field: "text".into(),
        schema: serde_json::from_value(schema).unwrap(),
        guidelines: "HS: menyerang kelompok.".into(),
        overlap: Some(1),
        blind: None,
        ordering: None,
        honeypots: Vec::new(),
        annotators: Vec::new(),
        retrain_every: None,
    };
    app.desks
        .create_label_project(
            &app.acme,
            &project("ujaran", json!({"kind": "single", "labels": ["HS", "Abusive", "Neither"]})),
        )
        .await
        .unwrap();
    app.desks
        .create_label_project(&app.acme, &project("ner", json!({"kind": "spans", "labels": ["PER", "LOC"]})))
        .await
        .unwrap();
    let base = serve(&app).await;
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let browser = Browser::start(&work.path().join("profile")).await;
    log_in(&browser, &format!("{base}/labeling/ujaran/annotate"), &annotator, "annotator-secret-pw").await;
    let at = |n: i64| move |_: &str, src: &str| src.contains(&format!("data-index=\"{n}\""));
    browser.wait_for("item 0", 10, at(0)).await;
    assert_eq!(browser.text("#item-text").await, "Joko pergi ke Bandung");

    // 3 picks "Neither", Enter submits and brings item 1.
    browser.keys(&[(None, "3"), (None, ENTER)]).await;
    browser.wait_for("item 1 after submitting", 10, at(1)).await;
    // → moves past item 1 without answering, ← comes back to it.
    browser.keys(&[(None, RIGHT)]).await;
    browser.wait_for("item 2", 10, at(2)).await;
    browser.keys(&[(None, LEFT)]).await;
    browser.wait_for("back to item 1", 10, at(1)).await;
    browser.keys(&[(None, "2")]).await;
    browser.wait_for("Abusive picked", 10, |_, src| src.contains("class=\"on\"")).await;
    browser.keys(&[(None, "?")]).await;
    browser
        .wait_for("the shortcuts", 10, |_, src| {
            src.contains("id=\"help\" class=\"help\" role=\"dialog\"")
                && !src.contains("id=\"help\" class=\"help\" hidden")
        })
        .await;
    browser.screenshot(&shots.join("browser-6-labeling.png")).await;
    browser.keys(&[(None, "?"), (None, ENTER)]).await;
    browser.wait_for("item 2 after the second submit", 10, at(2)).await;
    let mine = |task: TaskView| task.mine.and_then(|a| a.value);
    let user = app.desks.store.user_by_name(&annotator).await.unwrap();
    let labeler = juru_desks::Actor { user_id: user.id, username: annotator.clone(), ..app.acme.clone() };
    assert_eq!(mine(app.desks.label_task(&labeler, "ujaran", 0).await.unwrap()), Some(json!("Neither")));
    assert_eq!(mine(app.desks.label_task(&labeler, "ujaran", 1).await.unwrap()), Some(json!("Abusive")));

    // Spans: keyboard on item 0 — 1 labels the token under the cursor, → ×3 moves to
    // "Bandung", 2 labels it; Enter submits.
    browser.goto(&format!("{base}/labeling/ner/annotate")).await;
    browser.wait_for("span item 0", 10, at(0)).await;
    browser.keys(&[(None, "1"), (None, RIGHT), (None, RIGHT), (None, RIGHT), (None, "2")]).await;
    browser.wait_for("two spans", 10, |_, src| src.matches("<sup>").count() == 2).await;
    browser.keys(&[(None, ENTER)]).await;
    browser.wait_for("span item 1", 10, at(1)).await;
    assert_eq!(
        mine(app.desks.label_task(&labeler, "ner", 0).await.unwrap()),
        Some(json!([{"start": 0, "end": 4, "label": "PER"}, {"start": 14, "end": 21, "label": "LOC"}]))
    );
    // Item 1, "dasar kamu bodoh sekali": the mouse selects "kamu bodoh", 1 labels it.
    browser.drag(".tok[data-i=\"1\"]", ".tok[data-i=\"2\"]").await;
    browser.keys(&[(None, "1")]).await;
    browser.wait_for("the mouse span", 10, |_, src| src.contains("<sup>PER</sup>")).await;
    browser.screenshot(&shots.join("browser-7-spans.png")).await;
    browser.keys(&[(None, ENTER)]).await;
    browser.wait_for("span item 2", 10, at(2)).await;
    assert_eq!(
        mine(app.desks.label_task(&labeler, "ner", 1).await.unwrap()),
        Some(json!([{"start": 6, "end": 16, "label": "PER"}]))
    );
    // Item 2, "kebun raya Bogor indah": Shift+→ extends the selection over "kebun raya", 2
    // labels it; → moves to "Bogor", 2 labels that.
    browser.keys(&[(Some(SHIFT), RIGHT), (None, "2"), (None, RIGHT), (None, "2"), (None, ENTER)]).await;
    browser.wait_for("nothing left", 10, |_, src| src.contains("Nothing left to label")).await;
    assert_eq!(
        mine(app.desks.label_task(&labeler, "ner", 2).await.unwrap()),
        Some(json!([{"start": 0, "end": 10, "label": "LOC"}, {"start": 11, "end": 16, "label": "LOC"}]))
    );

    // Adjudication with keys: two annotators disagree on item 0 of a project with overlap 2;
    // 2 takes the second answer, the reason is typed, Enter resolves.
    let mut pair = project("ganda", json!({"kind": "single", "labels": ["HS", "Abusive", "Neither"]}));
    pair.overlap = Some(2);
    app.desks.create_label_project(&app.acme, &pair).await.unwrap();
    let admin = app.desks.store.user_by_name(&crate::username(Role::Admin)).await.unwrap();
    let other = juru_desks::Actor { user_id: admin.id, username: admin.username, ..app.acme.clone() };
    for (who, value) in [(&labeler, "HS"), (&other, "Abusive")] {
        let req = juru_desks::labeling::AnswerRequest {
            value: Some(json!(value)),
            status: None,
            seconds: None,
            schema_version: None,
        };
        app.desks.answer_label_task(who, "ganda", 0, &req).await.unwrap();
    }
    // Answers are shown side by side in the order the API lists them.
    let shown = app.desks.label_disagreements(&labeler, "ganda", 0, 1).await.unwrap();
    let second = shown[0].answers[1].value.clone().unwrap();
    browser.goto(&format!("{base}/labeling/ganda/adjudicate")).await;
    browser.wait_for("the disagreement", 10, at(0)).await;
    browser.keys(&[(None, "2")]).await;
    browser.type_into("#reason", &format!("kata kasar, tidak menyasar kelompok{ENTER}")).await;
    browser.wait_for("nothing left to adjudicate", 10, |_, src| src.contains("Nothing left")).await;
    let resolved = app.desks.label_resolutions(&labeler, "ganda", 0, 10).await.unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].value, second);
    assert_eq!(resolved[0].reason, "kata kasar, tidak menyasar kelompok");

    browser.goto(&format!("{base}/labeling/ujaran")).await;
    browser.wait_for("the dashboard", 10, |_, src| src.contains("id=\"agreement\"")).await;
    let progress = browser.text("#progress").await;
    assert!(progress.contains("2\nComplete"), "{progress}");
    browser.screenshot(&shots.join("browser-8-project.png")).await;
    browser.quit().await;
}

/// A reviewer works a queue with one key per decision (a approves, a digit rejects with that
/// reason code, e edits, Ctrl+Enter saves the edit), then backtests a routing rule on the
/// queue's page and saves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_outputs_with_one_key_per_decision() {
    use juru_desks::review::{AddItems, CreateQueue, NewItem};
    let app = TestApp::new(TestDb::new(Backend::Sqlite).await).await;
    let reviewer = crate::username(Role::Reviewer);
    app.desks
        .update_user(&app.acme, &reviewer, &UpdateUser { locale: Some("en".into()), ..Default::default() })
        .await
        .unwrap();
    let queue = CreateQueue {
        name: "periksa".into(),
        description: String::new(),
        instructions: "Periksa fakta dan nada.".into(),
        reviewers_per_item: Some(1),
        reviewers: Vec::new(),
        reason_codes: None,
        reservation_minutes: None,
        sla_seconds: None,
        sla_action: None,
        fallback_text: None,
        webhook_url: None,
    };
    app.desks.create_review_queue(&app.acme, &queue).await.unwrap();
    let item = |i: usize| NewItem {
        input: json!(format!("Pertanyaan {i}")),
        output: json!(format!("Jawaban asisten {i}")),
        model: "bot".into(),
        model_version_id: None,
        prompt_version_id: None,
        trace_id: None,
        confidence: Some(0.4),
        metadata: None,
        expected: None,
    };
    let added = app
        .desks
        .add_review_items(&app.acme, "periksa", &AddItems { items: (0..4).map(item).collect() })
        .await
        .unwrap();
    let ids = added.ids;
    // Past traces for the backtest: confidence 0.1, 0.3, 0.5, 0.7, 0.9.
    let traces: Vec<juru_desks::views::TraceRequest> = (0..5)
        .map(|i| {
            serde_json::from_value(json!({"input": "q", "output": "a", "model": "bot",
                                          "metadata": {"confidence": 0.1 + 0.2 * i as f64}}))
            .unwrap()
        })
        .collect();
    app.desks.ingest_traces(&app.acme, &traces).await.unwrap();

    let base = serve(&app).await;
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let work = tempfile::tempdir().unwrap();
    let browser = Browser::start(&work.path().join("profile")).await;
    log_in(&browser, &format!("{base}/review/periksa/work"), &reviewer, "reviewer-secret-pw").await;
    let at = |id: &str| {
        let marker = format!("data-item=\"{id}\"");
        move |_: &str, src: &str| src.contains(&marker)
    };
    browser.wait_for("the first item", 10, at(&ids[0])).await;
    assert_eq!(browser.text("#item-output").await, "Jawaban asisten 0");
    browser.keys(&[(None, "?")]).await;
    browser.wait_for("the shortcuts", 10, |_, src| !src.contains("id=\"help\" class=\"help\" hidden")).await;
    browser.screenshot(&shots.join("browser-9-review.png")).await;
    browser.keys(&[(None, "?"), (None, "a")]).await;
    browser.wait_for("the second item", 10, at(&ids[1])).await;
    browser.keys(&[(None, "2")]).await;
    browser.wait_for("the third item", 10, at(&ids[2])).await;
    browser.keys(&[(None, "e")]).await;
    browser.wait_for("the editor", 10, |_, src| src.contains("<div id=\"editor\">")).await;
    browser.clear("#edited").await;
    browser.type_into("#edited", "Jawaban asisten yang sudah dibetulkan").await;
    browser.keys(&[(Some(CONTROL), ENTER)]).await;
    browser.wait_for("the fourth item", 10, at(&ids[3])).await;

    let status = |i: usize| {
        let desks = app.desks.clone();
        let acme = app.acme.clone();
        let id = ids[i].clone();
        async move { desks.review_item(&acme, &id).await.unwrap() }
    };
    let approved = status(0).await;
    assert_eq!(
        (approved.status.as_str(), approved.final_output),
        ("approved", Some(json!("Jawaban asisten 0")))
    );
    let rejected = status(1).await;
    assert_eq!((rejected.status.as_str(), rejected.outcome_reason.as_str()), ("rejected", "wrong_label"));
    let edited = status(2).await;
    assert_eq!(edited.status, "edited");
    assert_eq!(edited.final_output, Some(json!("Jawaban asisten yang sudah dibetulkan")));
    let diff = edited.decisions[0].diff.clone().unwrap();
    assert_eq!(
        diff,
        json!([{"op": "keep", "text": "Jawaban asisten "}, {"op": "remove", "text": "2"},
               {"op": "add", "text": "yang sudah dibetulkan"}])
    );
    assert!(edited.decisions[0].seconds.unwrap() > 0.0);

    // The queue's page: backtest a rule on past traces, then save it switched off.
    browser.goto(&format!("{base}/review/periksa")).await;
    browser.wait_for("the queue page", 10, |_, src| src.contains("id=\"rule-form\"")).await;
    browser.type_into("input[name=confidence_below]", "0.6").await;
    browser.click("#backtest").await;
    browser.wait_for("the backtest", 10, |_, src| src.contains("id=\"backtest-result\"")).await;
    let result = browser.text("#backtest-result").await;
    assert!(result.contains("Would have sent: 3"), "{result}");
    browser.screenshot(&shots.join("browser-10-backtest.png")).await;
    browser.type_into("input[name=name]", "ragu").await;
    browser.click("#save-rule").await;
    browser.wait_for("the saved rule", 10, |_, src| src.contains("<td>ragu</td>")).await;
    let rules = browser.text("#rules").await;
    assert!(rules.contains("ragu") && rules.contains("off"), "{rules}");
    let counts = browser.text("#counts").await;
    assert!(counts.contains("1\nApproved") && counts.contains("1\nEdited"), "{counts}");
    browser.screenshot(&shots.join("browser-11-queue.png")).await;
    browser.quit().await;
}

const CONTROL: &str = "\u{E009}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_decisions_for_bias_from_the_form_to_the_report() {
    let app = TestApp::new(TestDb::new(Backend::Sqlite).await).await;
    let who = crate::username(Role::BiasReviewer);
    app.desks
        .update_user(&app.acme, &who, &UpdateUser { locale: Some("en".into()), ..Default::default() })
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("pinjaman.csv");
    std::fs::write(&csv, crate::bias::decisions_csv()).unwrap();
    let req = juru_desks::datasets::ImportRequest {
        name: "pinjaman".into(),
        description: String::new(),
        format: None,
        new_version: false,
        source: "pinjaman.csv".into(),
        message: String::new(),
    };
    app.desks.import_file(&app.acme, &csv, &req, Default::default()).await.unwrap();

    let base = serve(&app).await;
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let browser = Browser::start(&work.path().join("profile")).await;
    log_in(&browser, &format!("{base}/desks/bias"), &who, &format!("{who}-secret-pw")).await;
    browser.wait_for("the bias desk", 10, |_, src| src.contains("id=\"audit-form\"")).await;
    assert!(browser.text("#columns").await.contains("jenis_kelamin, suku, layak, keputusan, skor"));

    // A mistake first: an unknown column comes back named, with the form kept.
    browser.type_into("#label", "layak").await;
    browser.type_into("#prediction", "keputusan=ya").await;
    browser.type_into("#attributes", "jenis_kelamin, agama").await;
    browser.click("#start-audit").await;
    browser.wait_for("the problem", 10, |_, src| src.contains("id=\"message\"")).await;
    assert!(browser.text("#message").await.contains("attribute column \"agama\" is not in the table"));
    browser.clear("#attributes").await;
    browser.type_into("#attributes", "jenis_kelamin, suku").await;
    browser.type_into("#reference", "jenis_kelamin=L").await;
    browser.type_into("#checks", "disparate_impact >= 0.8").await;
    browser.click("#start-audit").await;

    // The job runs; the page follows it to the report.
    browser
        .wait_for("the finished audit", 30, |url, src| {
            url.contains("/bias/audits/") && src.contains("data-status=\"failed\"")
        })
        .await;
    let page = browser.source().await;
    assert!(page.contains("<svg") && page.contains("jenis_kelamin=P"), "plots with the groups");
    assert!(browser.text("#checks-table").await.contains("FAIL"));
    assert!(
        page.contains("suku=Papua") && page.contains("insufficient"),
        "the small group is shown as insufficient"
    );
    browser.screenshot(&shots.join("browser-14-bias-report.png")).await;

    // The export is one HTML file with everything inline.
    let url = browser.url().await;
    let cookie = browser.cmd(reqwest::Method::GET, "/cookie/juru_session", None).await;
    let html = reqwest::Client::new()
        .get(format!("{url}/report.html"))
        .header("cookie", format!("juru_session={}", cookie["value"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert!(html.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let html = html.text().await.unwrap();
    assert!(
        html.contains("<style>") && html.contains("<svg") && !html.contains("src=\"/static"),
        "self-contained"
    );
    std::fs::write(shots.join("bias-report.html"), &html).unwrap();
    browser.quit().await;
}

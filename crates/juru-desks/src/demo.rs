//! The demo workspace that `juru up` seeds on an empty install: an Indonesian e-commerce
//! shop's customer care (reviews with sentiment, support tickets, logged assistant replies,
//! and the assistant as an AI system). Later desks add to it.

use std::sync::Arc;

use juru_core::dataset::Format;
use serde_json::json;

use crate::datasets::{ImportRequest, Progress};
use crate::views::{AiSystemRequest, CreateWorkspace, TraceRequest};
use crate::{Actor, DeskError, Desks, Result};

/// The demo workspace's name.
pub const DEMO_WORKSPACE: &str = "demo";

const REVIEWS: &str = include_str!("../demo/ulasan-pelanggan.csv");
const TICKETS: &str = include_str!("../demo/tiket-cs.jsonl");

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

impl Desks {
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

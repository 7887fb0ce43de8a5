//! `juru prompt …` as people who keep prompts in files use it, beside a running server that
//! delivers what the CLI changed.

use std::time::{Duration, Instant};

use juru_store::Backend;

use super::{Site, free_addr, stderr, stdout, up_once_without_pack};

const SAPAAN: &str = "name: sapaan\n\
description: Sapaan pembuka\n\
template: \"Halo {{ nama }}, terima kasih sudah menghubungi kami.\"\n\
variables:\n  type: object\n  properties: {nama: {type: string}}\n  required: [nama]\n\
config: {model: echo, temperature: 0}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_cli_saves_renders_diffs_and_moves_labels_that_the_server_delivers() {
    let site = Site::new(Backend::Sqlite).await;
    up_once_without_pack(&site).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sapaan.yaml");
    let path = file.to_str().unwrap();

    // The demo's prompt is listed with its labels.
    let list = stdout(&site.run(&["prompt", "list"]));
    assert!(list.contains("balasan-cs") && list.contains("production→v1 staging→v2"), "{list}");

    // A new prompt from a file, then the same file again: nothing changes.
    std::fs::write(&file, SAPAAN).unwrap();
    let out = site.run(&["prompt", "push", path, "-m", "pertama", "--label", "staging"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "saved sapaan v1 (staging)");
    let out = site.run(&["prompt", "push", path]);
    assert_eq!(
        (out.status.code(), stdout(&out).trim()),
        (Some(0), "unchanged: sapaan@1 has the same content")
    );

    // A file with problems: exit 2, each problem with its place, nothing saved.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: sapaan\ntemplate: \"Halo {{ nama }},\\nsalam {{ gelar }\"\nvariables: {type: object, properties: {nama: {type: strin}}}\n",
    )
    .unwrap();
    let out = site.run(&["prompt", "push", bad.to_str().unwrap(), "--label", "latest"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("template line 2, column"), "{err}");
    assert!(err.contains("strin") && err.contains("latest is set by Juru itself"), "{err}");
    std::fs::write(&bad, "nama: sapaan\ntemplate: Halo\n").unwrap();
    let out = site.run(&["prompt", "push", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown field `nama`"), "{}", stderr(&out));
    assert!(stdout(&site.run(&["prompt", "versions", "sapaan"])).lines().count() == 1);

    // A second version; its diff word by word, and strict rendering.
    std::fs::write(&file, SAPAAN.replace("terima kasih sudah menghubungi", "selamat datang di")).unwrap();
    let out = site.run(&["prompt", "push", path, "-m", "lebih ramah"]);
    assert_eq!(stdout(&out).trim(), "saved sapaan v2", "{}", stderr(&out));
    let diff = stdout(&site.run(&["prompt", "diff", "sapaan", "1", "2"]));
    assert!(diff.contains("[-terima kasih sudah menghubungi -]{+selamat datang di +}kami."), "{diff}");
    let out = site.run(&["prompt", "render", "sapaan", "--version", "2", "--var", "nama=Budi"]);
    assert_eq!(stdout(&out).trim(), "Halo Budi, selamat datang di kami.", "{}", stderr(&out));
    let out = site.run(&["prompt", "render", "sapaan", "--label", "staging"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nama"), "{}", stderr(&out));
    let versions = stdout(&site.run(&["prompt", "versions", "sapaan"]));
    assert!(versions.starts_with("v2") && versions.contains("lebih ramah"), "{versions}");

    // What `show --format yaml` prints is a file `push` takes back unchanged.
    let shown = site.run(&["prompt", "show", "sapaan", "--version", "2", "--format", "yaml"]);
    let back = dir.path().join("back.yaml");
    std::fs::write(&back, stdout(&shown)).unwrap();
    let out = site.run(&["prompt", "push", back.to_str().unwrap()]);
    assert_eq!(stdout(&out).trim(), "unchanged: sapaan@2 has the same content", "{}", stderr(&out));

    // A server is running; the CLI moves a label in its own process, and the server delivers
    // the new version within a second.
    let token =
        stdout(&site.run(&["token", "create", "--user", "admin", "--role", "admin"])).trim().to_owned();
    let (_server, base, _) = site.start(&["serve", "--addr", &free_addr(), "--workers", "0"]);
    let http = reqwest::Client::new();
    let production = || async {
        let res = http
            .get(format!("{base}/api/v1/prompts/sapaan?label=production"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if res.status() == 404 {
            None
        } else {
            res.json::<serde_json::Value>().await.unwrap()["version"].as_i64()
        }
    };
    assert_eq!(production().await, None);
    let mut events =
        http.get(format!("{base}/api/v1/prompts/events")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let out = site.run(&["prompt", "label", "sapaan", "production", "1", "--reason", "rilis"]);
    assert_eq!(stdout(&out).trim(), "sapaan@production → v1", "{}", stderr(&out));
    let moved = Instant::now();
    while production().await != Some(1) {
        assert!(moved.elapsed() < Duration::from_secs(1), "the server still answers the old label");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its listeners hear of the move too, though another process made it.
    let heard = tokio::time::timeout(Duration::from_secs(1), async {
        let mut text = String::new();
        while !text.contains("event: label") {
            text.push_str(&String::from_utf8_lossy(&events.chunk().await.unwrap().unwrap()));
        }
        text
    })
    .await
    .expect("the move is pushed within a second");
    assert!(heard.contains(r#""prompt":"sapaan","label":"production","version":1"#), "{heard}");
    let out = site.run(&["prompt", "label", "sapaan", "production", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = site.run(&["prompt", "revert", "sapaan", "production", "--reason", "salah"]);
    assert_eq!(stdout(&out).trim(), "sapaan@production → v1", "{}", stderr(&out));
    let history = stdout(&site.run(&["prompt", "history", "sapaan", "production"]));
    let moves: Vec<&str> = history.lines().collect();
    assert_eq!(moves.len(), 3, "{history}");
    assert!(moves[0].contains("v2 → v1") && moves[0].ends_with("salah"), "{history}");
    assert!(moves[2].contains("(none) → v1") && moves[2].ends_with("rilis"), "{history}");

    // A protected label: the CLI's move becomes a request, and a second person approves it.
    let out = site.run(&["prompt", "protect", "production"]);
    assert_eq!(stdout(&out).trim(), "protected labels: production", "{}", stderr(&out));
    let out = site.run(&["prompt", "label", "sapaan", "production", "2"]);
    let said = stdout(&out);
    assert!(said.starts_with("production is protected: request "), "{said}{}", stderr(&out));
    let request = said.split_whitespace().nth(4).unwrap();
    assert_eq!(
        stdout(&site.run(&["prompt", "show", "sapaan", "--label", "production"])).lines().next().unwrap(),
        stdout(&site.run(&["prompt", "show", "sapaan", "--version", "1"])).lines().next().unwrap()
    );
    let res = http
        .post(format!("{base}/api/v1/prompts/sapaan/promotions/{request}/approve"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"reason": "sudah dicek"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(production().await, Some(2));
    let out = site.run(&["prompt", "label", "sapaan", "production", "--remove"]);
    assert!(stdout(&out).contains("is protected"), "{}", stdout(&out));

    // Unknown prompts and versions are named.
    let out = site.run(&["prompt", "show", "hantu"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("prompt \"hantu\" not found"), "{}", stderr(&out));
    let out = site.run(&["prompt", "label", "sapaan", "staging", "9"]);
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

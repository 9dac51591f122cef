//! The card photo through a vendor's WLT decoder plugin: with one installed
//! the card JSON carries `photo_jpeg`; a decoder that crashes costs the
//! picture, never the card read. (The test decoder paints a picture from the
//! bytes; WLT itself is proprietary and only vendors decode it.)

use std::time::Duration;

use base64::Engine as _;
use examgate_e2e::agent::Agent;
use examgate_e2e::pcscd::{Pcscd, SLOT0, SLOT0_ADDR};
use examgate_sim::card_file::CardFile;
use examgate_sim::vpcd::{self, CardImage, CardProfile, VirtualCard};
use reqwest::Client;
use serde_json::{Value, json};

fn card() -> VirtualCard {
    let file = CardFile::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../simulators/cards/resident.toml")).unwrap();
    let serial = file.chip_serial;
    VirtualCard {
        image: CardImage {
            text: file.fields.encode(),
            photo: file.photo.as_slice().try_into().unwrap(),
            chip_serial: serial,
            pupi: [serial[0], serial[1], serial[2], serial[3]],
        },
        profile: CardProfile::Decoded,
    }
}

async fn agent_with_decoder(dir: &std::path::Path, decoder: &std::path::Path) -> Agent {
    let config = dir.join("agent.toml");
    std::fs::write(&config, format!("wlt_decoder = {:?}\n", decoder.to_str().unwrap())).unwrap();
    Agent::start(&["--config", config.to_str().unwrap(), "--device", "pcsc-idcard:Virtual PCD 00 00"]).await
}

async fn read(agent: &Agent) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = Client::new()
            .post(agent.url("/v1/idcard/read"))
            .json(&json!({"device": SLOT0, "timeout_ms": 5000}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        if status == 200 {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "no card read: {body}");
    }
}

#[tokio::test]
async fn a_decoder_plugin_adds_the_picture_and_a_crashing_one_costs_only_the_picture() {
    let _pcscd = Pcscd::start();
    let _card = vpcd::spawn(SLOT0_ADDR.into(), card());
    let dir = tempfile::tempdir().unwrap();

    let agent = agent_with_decoder(dir.path(), &examgate_test_plugins::wlt_decoder_path()).await;
    let body = read(&agent).await;
    let jpeg =
        base64::engine::general_purpose::STANDARD.decode(body["photo_jpeg"].as_str().expect("photo_jpeg")).unwrap();
    let picture = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
    assert_eq!((picture.width(), picture.height()), (102, 126));
    assert!(body["photo_wlt"].is_string() && body["photo_sha256"].is_string(), "{body}");
    drop(agent);

    let agent = agent_with_decoder(dir.path(), &examgate_test_plugins::crashing_wlt_decoder_path()).await;
    let body = read(&agent).await;
    assert!(body.get("photo_jpeg").is_none(), "{body}");
    assert_eq!(body["name"], "张伟", "the card read stands: {body}");
    assert!(agent.log().contains("WLT photo decoder failed"), "{}", agent.log());
}

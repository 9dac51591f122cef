//! The agent with an AS608 fingerprint module: the real `examgate-agent`
//! process against `examgate-sim as60x --pty --link PATH`, through the
//! seeds' legacy API (GetTemplate, MatchSampleTemplate, Enabled).

use std::ffi::OsStr;

use examgate_e2e::agent::Agent;
use examgate_e2e::sim::SimProcess;
use reqwest::Client;

async fn legacy_get_template(client: &Client, agent: &Agent) -> String {
    client.post(agent.url("/legacy/GetTemplate")).send().await.unwrap().text().await.unwrap()
}

async fn legacy_match(client: &Client, agent: &Agent, template: &str, old: &str) -> String {
    client
        .post(agent.url("/legacy/MatchSampleTemplate"))
        .form(&[("Template", template), ("OldTemplate", old)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_as60x_module_serves_the_legacy_api() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("as608");
    let mut module =
        SimProcess::spawn([OsStr::new("as60x"), OsStr::new("--pty"), OsStr::new("--link"), link.as_os_str()]);
    let selector = format!("as60x:{}", link.display());
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "capture_timeout_ms = 2000\n").unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap(), "--device", &selector]).await;
    let client = Client::new();

    let enabled = client.get(agent.url("/legacy/Enabled")).send().await.unwrap().text().await.unwrap();
    assert_eq!(enabled, "true");

    module.script("finger 1");
    let enrolled = legacy_get_template(&client, &agent).await;
    assert_ne!(enrolled, "-1", "{}", agent.log());
    let probe = legacy_get_template(&client, &agent).await;
    module.script("finger 2");
    let other = legacy_get_template(&client, &agent).await;
    module.script("lift");

    let same: u32 = legacy_match(&client, &agent, &probe, &enrolled).await.parse().expect("a score");
    assert!(same > 800, "same finger scored {same}");
    let different: u32 = legacy_match(&client, &agent, &other, &enrolled).await.parse().expect("a score");
    assert!((1..=800).contains(&different), "another finger scored {different}");

    // No finger: -1 and an ErrorMessage saying so.
    let none = legacy_get_template(&client, &agent).await;
    assert_eq!(none, "-1");
    let message = client.get(agent.url("/legacy/ErrorMessage")).send().await.unwrap().text().await.unwrap();
    assert!(message.contains("finger"), "{message}");
}

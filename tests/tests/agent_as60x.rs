//! The agent with an AS608 fingerprint module: the real `examgate-agent`
//! process against `examgate-sim as60x --pty --link PATH`, through the
//! seeds' legacy API (GetTemplate, MatchSampleTemplate, Enabled).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use examgate_e2e::agent::{Agent, sim_binary};
use reqwest::Client;

const WAIT: Duration = Duration::from_secs(20);

/// `examgate-sim as60x --pty` in its own process; killed when dropped.
struct ModuleSim {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl ModuleSim {
    fn spawn(link: &Path) -> ModuleSim {
        let mut child = Command::new(sim_binary())
            .args(["as60x", "--pty", "--link"])
            .arg(link)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start examgate-sim as60x");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sim = ModuleSim { child, stdin, lines };
        loop {
            match sim.lines.recv_timeout(WAIT) {
                Ok(line) if line == "ready" => return sim,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("the AS60x simulator did not get ready"),
                Err(RecvTimeoutError::Disconnected) => panic!("the AS60x simulator exited"),
            }
        }
    }

    /// Send a script line and await its acknowledgement.
    fn script(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        loop {
            let ack = self.lines.recv_timeout(WAIT).expect("an acknowledgement");
            if ack.starts_with("ok") {
                return;
            }
            assert!(!ack.starts_with("error"), "{line}: {ack}");
        }
    }
}

impl Drop for ModuleSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    let mut module = ModuleSim::spawn(&link);
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

//! A real `examgate-agent run` process on a free loopback port, killed when
//! dropped, with its log kept for failure messages.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an agent may take to start serving.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running agent.
pub struct Agent {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

impl Agent {
    /// Start `examgate-agent run --listen 127.0.0.1:PORT ARGS...` and wait
    /// until `GET /v1/health` answers.
    pub async fn start(args: &[&str]) -> Agent {
        // A port found free may be taken before the agent binds it; try anew.
        for _ in 0..3 {
            if let Some(agent) = Agent::try_start(args).await {
                return agent;
            }
        }
        panic!("examgate-agent did not start on a free port three times; see its log above");
    }

    async fn try_start(args: &[&str]) -> Option<Agent> {
        let port = free_port();
        let mut child = Command::new(crate::agent_binary())
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start examgate-agent");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut agent = Agent { child, port, log };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = agent.child.try_wait() {
                let log = agent.log();
                if log.contains("cannot listen") {
                    eprintln!("port {port} was taken:\n{log}");
                    return None;
                }
                panic!("examgate-agent exited with {status} before serving:\n{log}");
            }
            if let Ok(r) = client.get(agent.url("/v1/health")).send().await
                && r.status().is_success()
            {
                return Some(agent);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("examgate-agent did not answer /v1/health within {START_DEADLINE:?}:\n{}", agent.log());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `ws://127.0.0.1:PORT` + `path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// Everything the agent logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Send SIGTERM and wait (up to `deadline`) for the agent to exit.
    pub fn terminate(mut self, deadline: Duration) -> std::process::ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the agent") {
                return status;
            }
            assert!(Instant::now() < end, "the agent did not stop within {deadline:?} of SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The simulator tool, `examgate-sim`.
pub fn sim_binary() -> PathBuf {
    crate::artifact("examgate-sim")
}

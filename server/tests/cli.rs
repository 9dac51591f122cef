//! The operator's commands: `seat list|approve|rebind`, `user add|list`, `pin`. Both databases.

#[macro_use]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Harness, TestAgent, TestDb};

const SERVER: &str = env!("CARGO_BIN_EXE_examgate-server");

fn run(db: &TestDb, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(SERVER)
        .args(args)
        .args(["--database", &db.url, "--data-dir"])
        .arg(db.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

async fn seats_are_approved_and_rebound_from_the_shell(db: TestDb) {
    let h = Harness::new(db).await;
    let a = TestAgent::new("02:00:00:00:00:51", "10.0.0.51");
    let b = TestAgent::new("02:00:00:00:00:52", "10.0.0.52");
    h.send(a.enrol_request()).await;
    h.send(b.enrol_request()).await;
    let (ok, out) = run(&h.db, &["seat", "list"], "");
    assert!(ok && out.contains(&format!("pending\t{}", a.key_id)), "{out}");
    let (ok, out) = run(&h.db, &["seat", "approve", "51", "--key", &a.key_id], "");
    assert!(ok && out.contains("seat 51 bound to"), "{out}");
    let (ok, out) = run(&h.db, &["seat", "approve", "51", "--key", &b.key_id], "");
    assert!(!ok && out.contains("rebind the seat to take it over"), "{out}");
    let (ok, out) = run(&h.db, &["seat", "rebind", "51", "--key", &b.key_id, "--ip", "10.0.0.99"], "");
    assert!(ok && out.contains("10.0.0.99"), "{out}");
    let (ok, out) = run(&h.db, &["seat", "list"], "");
    assert!(
        ok && out.contains(&format!("seat 51\t{}", b.key_id)) && out.contains(&format!("replaced\t{}", a.key_id)),
        "{out}"
    );
    let rows = h.audit_actions().await;
    assert!(rows.iter().any(|(a, s, _)| a == "approve" && s == "seat:51"));
    let (chain, _) = h.db.store.audit_chain().await.unwrap();
    assert!(chain.iter().any(|r| r.action == "rebind" && r.actor == "cli"));
}

async fn accounts_are_made_from_the_shell(db: TestDb) {
    let h = Harness::new(db).await;
    let (ok, out) = run(&h.db, &["user", "add", "chief", "--role", "examiner"], "short\n");
    assert!(!ok && out.contains("at least 8 characters"), "{out}");
    let (ok, out) = run(&h.db, &["user", "add", "chief", "--role", "examiner"], "a long enough password\n");
    assert!(ok, "{out}");
    let (ok, out) = run(&h.db, &["user", "list"], "");
    assert!(ok && out.contains("chief\texaminer"), "{out}");
    let (ok, out) = run(&h.db, &["pin"], "");
    assert!(ok && out.trim().len() == 64, "{out}");
    let (_, again) = run(&h.db, &["pin"], "");
    assert_eq!(out, again, "the certificate is made once");
}

both_databases!(seats_are_approved_and_rebound_from_the_shell, accounts_are_made_from_the_shell);

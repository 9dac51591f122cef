//! `examgate-server audit verify` names tampered rows; backups restore across
//! databases and stay consistent while the server serves. Both databases.

#[macro_use]
mod common;

use std::process::Command;

use axum::http::StatusCode;
use common::{Harness, TestAgent, TestDb, answers_delivery, snapshot_delivery};
use examgate_server::backup;
use examgate_server::store::TableDump;

const SERVER: &str = env!("CARGO_BIN_EXE_examgate-server");

/// Runs SQL on the test database behind the server's back, as an intruder would.
async fn tamper(db: &TestDb, statements: &[&str]) {
    if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string())).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string())).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

fn verify(db: &TestDb) -> (bool, String) {
    let out = Command::new(SERVER)
        .args(["audit", "verify", "--database", &db.url, "--data-dir"])
        .arg(db.dir.path())
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// A centre with two seats, deliveries (one a snapshot) and an alert.
async fn busy_centre(db: TestDb) -> Harness {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let a = TestAgent::new("02:00:00:00:00:01", "10.0.0.1");
    let b = TestAgent::new("02:00:00:00:00:02", "10.0.0.2");
    h.bind(&a, "1", &console).await;
    h.bind(&b, "2", &console).await;
    assert_eq!(h.send(a.delivery("s-1", &snapshot_delivery(Some("1"), 1))).await.status, StatusCode::CREATED);
    assert_eq!(h.send(b.delivery("a-1", &answers_delivery(Some("2"), "q1"))).await.status, StatusCode::CREATED);
    assert_eq!(h.send(a.heartbeat(Some("2"))).await.status, StatusCode::FORBIDDEN);
    h
}

async fn audit_verify_names_edited_deleted_and_reordered_rows(db: TestDb) {
    let h = busy_centre(db).await;
    let (ok, out) = verify(&h.db);
    assert!(ok, "{out}");
    assert!(out.contains("audit chain intact"), "{out}");
    let n = h.audit_actions().await.len();
    assert!(n >= 8, "{n} rows");

    tamper(&h.db, &["UPDATE audit SET detail = 'nothing happened' WHERE seq = 3"]).await;
    let (ok, out) = verify(&h.db);
    assert!(!ok && out.contains("row 3 was edited"), "{out}");
    tamper(&h.db, &["DELETE FROM audit WHERE seq = 3"]).await;
    let (ok, out) = verify(&h.db);
    assert!(!ok && out.contains("row 3 was deleted"), "{out}");
    tamper(
        &h.db,
        &[
            "UPDATE audit SET seq = -1 WHERE seq = 5",
            "UPDATE audit SET seq = 5 WHERE seq = 6",
            "UPDATE audit SET seq = 6 WHERE seq = -1",
        ],
    )
    .await;
    let (ok, out) = verify(&h.db);
    assert!(!ok, "{out}");
    assert!(out.contains("row 5 was reordered: it was written as row 6"), "{out}");
    assert!(out.contains("row 6 was reordered: it was written as row 5"), "{out}");
    let last = n as i64;
    tamper(&h.db, &[&format!("DELETE FROM audit WHERE seq = {last}")]).await;
    let (_, out) = verify(&h.db);
    assert!(out.contains(&format!("rows {last} to {last} were cut off the end")), "{out}");
}

/// Tables without the restore's own audit row, for comparing two centres.
fn comparable(mut tables: Vec<TableDump>, audit_rows: usize) -> Vec<TableDump> {
    for t in &mut tables {
        match t.name.as_str() {
            "audit" => t.rows.truncate(audit_rows),
            "audit_head" => t.rows.clear(),
            _ => {}
        }
    }
    tables
}

async fn a_backup_restores_into_the_other_database_and_back(db: TestDb) {
    let h = busy_centre(db).await;
    let original = h.db.store.dump().await.unwrap();
    let audit_rows = original.iter().find(|t| t.name == "audit").unwrap().rows.len();
    let file = h.db.dir.path().join("centre.backup");
    let s = backup::backup(h.db.store.as_ref(), &h.state.snapshots, &file).await.unwrap();
    assert_eq!(s.files, 1);

    // Into the other kind of database, then back into a new one of the first kind.
    let other = if h.db.store.kind() == "sqlite" { TestDb::postgres().await } else { TestDb::sqlite().await };
    let other_files = examgate_server::snapshots::SnapshotFiles::new(other.dir.path().join("snapshots"));
    backup::restore(other.store.as_ref(), &other_files, &file).await.unwrap();
    assert_eq!(comparable(other.store.dump().await.unwrap(), audit_rows), comparable(original.clone(), audit_rows));
    assert_eq!(other_files.list().unwrap(), h.state.snapshots.list().unwrap());
    let (ok, out) = verify(&other);
    assert!(ok, "restored chain: {out}");

    let file2 = other.dir.path().join("again.backup");
    backup::backup(other.store.as_ref(), &other_files, &file2).await.unwrap();
    let back = h.db.fresh_like().await;
    let back_files = examgate_server::snapshots::SnapshotFiles::new(back.dir.path().join("snapshots"));
    backup::restore(back.store.as_ref(), &back_files, &file2).await.unwrap();
    assert_eq!(comparable(back.store.dump().await.unwrap(), audit_rows), comparable(original, audit_rows));
    let (ok, out) = verify(&back);
    assert!(ok, "twice restored chain: {out}");
    assert!(out.contains(&format!("{} rows", audit_rows + 2)), "two restore rows on top: {out}");

    // A database in use is never overwritten.
    let err = backup::restore(h.db.store.as_ref(), &h.state.snapshots, &file).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
}

async fn a_backup_taken_while_serving_is_consistent(db: TestDb) {
    let h = busy_centre(db).await;
    let agent = TestAgent::new("02:00:00:00:00:09", "10.0.0.9");
    h.bind(&agent, "9", &h.console().await).await;
    let app = h.app();
    let writer = tokio::spawn(async move {
        use tower::ServiceExt;
        for i in 0..60u8 {
            let req = agent.delivery(&format!("live-{i}"), &snapshot_delivery(None, 100 + i));
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
        }
    });
    let mut backups = Vec::new();
    for n in 0..3 {
        let file = h.db.dir.path().join(format!("live-{n}.backup"));
        backup::backup(h.db.store.as_ref(), &h.state.snapshots, &file).await.unwrap();
        backups.push(file);
    }
    writer.await.unwrap();
    for file in backups {
        let target = TestDb::sqlite().await;
        let files = examgate_server::snapshots::SnapshotFiles::new(target.dir.path().join("snapshots"));
        let s = backup::restore(target.store.as_ref(), &files, &file).await.unwrap();
        let (ok, out) = verify(&target);
        assert!(ok, "{out}");
        // Every snapshot a row names came along.
        let rows = target.store.deliveries(None, 10_000).await.unwrap();
        for r in rows.iter().filter_map(|r| r.file_sha256.as_ref()) {
            assert!(files.get(r).is_ok(), "row names missing file {r}");
        }
        assert_eq!(s.files, rows.iter().filter(|r| r.file_sha256.is_some()).count());
    }
}

/// Two server processes on one database (PostgreSQL is made for it; a SQLite
/// file takes it too): their concurrent appends make one unbroken chain.
async fn two_servers_on_one_database_keep_one_chain(db: TestDb) {
    let h = Harness::new(db).await;
    let console = h.console().await;
    let other_store = examgate_server::store::open(&h.db.url).await.unwrap();
    let other = TestDb { store: other_store, url: h.db.url.clone(), dir: tempfile::tempdir().unwrap() };
    let other = Harness { state: other.state(), db: other };
    let agents: Vec<TestAgent> =
        (0..8).map(|i| TestAgent::new(&format!("02:00:00:00:02:{i:02x}"), "10.0.2.1")).collect();
    for (i, a) in agents.iter().enumerate() {
        h.bind(a, &format!("{}", 100 + i), &console).await;
    }
    // Every agent delivers through both servers at once.
    let mut tasks = Vec::new();
    for (i, a) in agents.into_iter().enumerate() {
        let (one, two) = (h.app(), other.app());
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            for k in 0..10 {
                let app = if (i + k) % 2 == 0 { one.clone() } else { two.clone() };
                let resp =
                    app.oneshot(a.delivery(&format!("k{k}"), &answers_delivery(None, &format!("q{k}")))).await.unwrap();
                assert_eq!(resp.status(), StatusCode::CREATED);
            }
            a
        }));
    }
    let mut agents = Vec::new();
    for t in tasks {
        agents.push(t.await.unwrap());
    }
    assert_eq!(h.db.store.delivery_count().await.unwrap(), 80);
    let (ok, out) = verify(&h.db);
    assert!(ok, "{out}");
    if h.db.store.kind() == "postgres" {
        // A request one server took is a replay at the other.
        let a = &agents[0];
        let (parts, body) = a.request_parts(
            "POST",
            examgate_protocol::link::paths::HEARTBEAT,
            br#"{"devices":[],"outbox_pending":0}"#.to_vec(),
            &common::Bend::default(),
        );
        let build = || {
            let mut b = axum::http::Request::post(examgate_protocol::link::paths::HEARTBEAT);
            for (k, v) in &parts {
                b = b.header(k, v);
            }
            let mut req = b.body(axum::body::Body::from(body.clone())).unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(examgate_server::api::PeerAddr("10.0.2.1:4000".parse().unwrap())));
            req
        };
        assert_eq!(h.send(build()).await.status, StatusCode::OK);
        let r = other.send(build()).await;
        assert_eq!((r.status, r.kind().as_str()), (StatusCode::UNAUTHORIZED, "replayed"), "{}", r.text());
    }
}

both_databases!(
    two_servers_on_one_database_keep_one_chain,
    audit_verify_names_edited_deleted_and_reordered_rows,
    a_backup_restores_into_the_other_database_and_back,
    a_backup_taken_while_serving_is_consistent,
);

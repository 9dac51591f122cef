//! The day's roster: imports through the console API and the CLI, every bad
//! row reported and nothing stored, replacement, sealing at rest, the purge.
//! Every test runs against SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::io::Cursor;

use axum::http::{StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Harness, TestDb};
use examgate_device_sdk::idcard::id_check_char;
use examgate_protocol::login::TemplateData;
use examgate_server::api::AppState;
use examgate_server::roster;
use examgate_server::seal::{Sealer, aad};
use serde_json::{Value, json};

const DATE: &str = "2026-11-25";
const HEADER: &str = "booking_number,id_number,name,session,language,photo,templates";
const SERVER: &str = env!("CARGO_BIN_EXE_examgate-server");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../drivers/minutiae/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn iso() -> Vec<u8> {
    fixture("finger1_impression1.iso.fmr")
}

fn ansi() -> Vec<u8> {
    fixture("finger1_impression2.ansi.fmr")
}

/// A valid ID number (the check character computed) ending in `n`.
fn id(n: u32) -> String {
    let body = format!("11010519900101{n:03}");
    let check = id_check_char(&body).unwrap();
    format!("{body}{check}")
}

/// A real image of `side`×`side` noisy pixels, so its bytes are unlike anything else stored.
fn photo(format: image::ImageFormat, seed: u32, side: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn jpeg(seed: u32) -> Vec<u8> {
    photo(image::ImageFormat::Jpeg, seed, 48)
}

fn png(seed: u32) -> Vec<u8> {
    photo(image::ImageFormat::Png, seed, 40)
}

fn csv(rows: &[String]) -> String {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    text
}

fn files(entries: &[(&str, &[u8])]) -> Value {
    let map: HashMap<&str, String> = entries.iter().map(|(name, bytes)| (*name, B64.encode(bytes))).collect();
    json!(map)
}

/// A harness whose exam centre runs on Beijing time.
async fn harness(db: TestDb) -> Harness {
    let mut h = Harness::new(db).await;
    let mut config = h.db.config();
    config.roster.utc_offset_secs = Some(8 * 3600);
    let clock = h.state.clock;
    h.state = AppState::new(h.db.store.clone(), config);
    h.state.clock = clock;
    h
}

async fn import(h: &Harness, cookie: &str, format: &str, roster: &str, files: Value) -> common::Reply {
    let body = json!({"format": format, "name": format!("roster.{format}"), "roster": roster, "files": files});
    h.post("/api/v1/roster/import", cookie, body).await
}

/// Runs SQL on the test's database directly: what other parts of the server
/// (login, verifications) would have written.
async fn sql(db: &TestDb, q: &str) {
    let q = sqlx::AssertSqlSafe(q.to_owned());
    if db.store.kind() == "postgres" {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(q).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(q).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

fn opened_templates(h: &Harness, booking: &str, sealed: &str) -> Vec<TemplateData> {
    let json = h.state.sealer.open(&aad::templates(booking), sealed).unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn a_csv_roster_is_imported_with_its_files_sealed(db: TestDb) {
    let h = harness(db).await;
    let cookie = h.console().await;
    let (photo1, photo2, vendor) = (jpeg(1), png(2), b"examgate-sim template bytes".to_vec());
    let roster = csv(&[
        format!("B-001,{},\"Wang, Fang\",{DATE} 09:00,zh,photos/1.jpg,fingers/1.fmr;ansi378:fingers/2.fmr", id(1)),
        format!("B-002,{},Ali Yusup,{DATE} 13:30,ug,photos/2.png,vendor:examgate-sim:fingers/3.tpl", id(2)),
    ]);
    let r = import(
        &h,
        &cookie,
        "csv",
        &roster,
        files(&[
            ("photos/1.jpg", &photo1),
            ("photos/2.png", &photo2),
            ("fingers/1.fmr", &iso()),
            ("fingers/2.fmr", &ansi()),
            ("fingers/3.tpl", &vendor),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["rows"].as_u64(), r.json()["replaced"].as_u64()), (Some(2), Some(0)));

    let c = h.db.store.candidate("B-001").await.unwrap().unwrap();
    assert_eq!((c.name.as_str(), c.language.as_str(), c.exam_date.as_str()), ("Wang, Fang", "zh-CN", DATE));
    assert_eq!((c.session.as_str(), c.template_count, c.failures), ("2026-11-25 09:00", 2, 0));
    assert_eq!(c.state, examgate_protocol::login::CandidateState::Booked);
    let photo = h.state.sealer.open(&aad::photo("B-001"), c.photo.as_deref().unwrap()).unwrap();
    assert_eq!(photo, photo1);
    let templates = opened_templates(&h, "B-001", c.templates.as_deref().unwrap());
    assert_eq!(
        templates,
        [
            TemplateData { format: "iso19794-2".into(), data: B64.encode(iso()) },
            TemplateData { format: "ansi378".into(), data: B64.encode(ansi()) },
        ]
    );
    let c2 = h.db.store.candidate_by_id_number(&id(2), DATE).await.unwrap().unwrap();
    assert_eq!(c2.booking_number, "B-002");
    let templates = opened_templates(&h, "B-002", c2.templates.as_deref().unwrap());
    assert_eq!(templates, [TemplateData { format: "vendor:examgate-sim".into(), data: B64.encode(&vendor) }]);
    assert!(h.db.store.candidate_by_id_number(&id(2), "2026-11-26").await.unwrap().is_none());

    // One audit row, with no personal data in it.
    let rows: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "roster_imported").collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let detail = &rows[0].2;
    assert!(detail.contains("2 rows") && detail.contains(&examgate_server::crypto::sha256_hex(roster.as_bytes())));
    for personal in ["Wang", &id(1), &id(2)] {
        assert!(!detail.contains(personal), "{detail}");
    }
}

async fn a_json_roster_takes_files_or_inline_data(db: TestDb) {
    let h = harness(db).await;
    let cookie = h.console().await;
    let roster = json!({"bookings": [
        {"booking_number": "J1", "id_number": id(11), "name": "Anna Schmidt", "session": format!("{DATE} 09:00"),
         "language": "de", "photo": "a.jpg", "templates": [{"file": "a.fmr"}, {"format": "ansi378", "data": B64.encode(ansi())}]},
        {"booking_number": "J2", "id_number": id(12).to_lowercase(), "name": "Бат", "session": format!("{DATE} 09:00"),
         "language": "mn", "photo_base64": B64.encode(png(3)),
         "templates": [{"format": "vendor:as60x", "data": B64.encode([7u8; 512])}]}
    ]});
    let r = import(&h, &cookie, "json", &roster.to_string(), files(&[("a.jpg", &jpeg(4)), ("a.fmr", &iso())])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["rows"], 2);
    let list = h.get(&format!("/api/v1/roster?date={DATE}"), &cookie).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let list = list.json();
    assert_eq!(list["date"], DATE);
    assert_eq!(
        list["candidates"][1],
        json!({"booking_number": "J2", "id_number": id(12), "name": "Бат", "session": "2026-11-25 09:00",
               "language": "mn-Mong", "state": "booked", "mode": null, "seat": null, "failures": 0,
               "has_photo": true, "templates": 1})
    );
    assert_eq!(list["candidates"][0]["templates"], 2);
}

async fn every_bad_row_is_reported_and_nothing_is_stored(db: TestDb) {
    let h = harness(db).await;
    let cookie = h.console().await;
    let mut wrong_check = id(3);
    wrong_check.replace_range(17.., if wrong_check.ends_with('0') { "1" } else { "0" });
    let good = |b: &str, n: u32| format!("{b},{},Name {b},{DATE} 09:00,en,p.jpg,f.fmr", id(n));
    let eleven = ["f.fmr"; 11].join(";");
    let rows = [
        good("OK-1", 1),                                                        // line 2: fine
        format!("bad booking!,{},A,{DATE} 09:00,en,p.jpg,f.fmr", id(4)),        // 3
        format!("E-3,{wrong_check},A,{DATE} 09:00,en,p.jpg,f.fmr"),             // 4
        format!("E-4,{},,{DATE} 09:00,en,p.jpg,f.fmr", id(5)),                  // 5
        format!("E-5,{},A,2026-02-30 09:00,en,p.jpg,f.fmr", id(6)),             // 6
        format!("E-6,{},A,{DATE} 09:00,cn,p.jpg,f.fmr", id(7)),                 // 7
        format!("E-7,{},A,{DATE} 09:00,en,missing.jpg,f.fmr", id(8)),           // 8
        format!("E-8,{},A,{DATE} 09:00,en,notimage.jpg,f.fmr", id(9)),          // 9
        format!("E-9,{},A,{DATE} 09:00,en,truncated.jpg,f.fmr", id(10)),        // 10
        format!("E-10,{},A,{DATE} 09:00,en,p.jpg,garbage.fmr", id(11)),         // 11
        format!("E-11,{},A,{DATE} 09:00,en,p.jpg,iso19794-2:ansi.fmr", id(12)), // 12
        format!("E-12,{},A,{DATE} 09:00,en,p.jpg,{eleven}", id(13)),            // 13
        format!("E-13,{},A,{DATE} 09:00,en,p.jpg,vendor:x:big.tpl", id(14)),    // 14
        good("OK-1", 15),                                                       // 15: booking twice
        format!("E-15,{},A,{DATE} 14:00,en,p.jpg,f.fmr", id(1)),                // 16: same ID, same date
        format!("E-16,{},A,{DATE} 09:00,en,big.jpg,", id(16)),                  // 17: two errors
    ];
    let jpg = jpeg(5);
    let r = import(
        &h,
        &cookie,
        "csv",
        &csv(&rows),
        files(&[
            ("p.jpg", &jpg),
            ("notimage.jpg", b"GIF89a not a photo"),
            ("truncated.jpg", &jpg[..jpg.len() / 2]),
            ("big.jpg", &vec![0xff; (1 << 20) + 1]),
            ("f.fmr", &iso()),
            ("garbage.fmr", b"FMR\0 20\0 and then nonsense"),
            ("ansi.fmr", &ansi()),
            ("big.tpl", &[1u8; 4097]),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["kind"], "invalid_roster");
    assert_eq!(body["error"]["message"], "15 rows have errors");
    let errors: Vec<(u64, String, String)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().into(), e["reason"].as_str().unwrap().into())
        })
        .collect();
    let expect = [
        (3, "booking_number", "A-Z, a-z, 0-9"),
        (4, "id_number", "check character"),
        (5, "name", "empty"),
        (6, "session", "not a date in the calendar"),
        (7, "language", "not an exam language"),
        (8, "photo", "missing.jpg: no such file"),
        (9, "photo", "not a JPEG or PNG"),
        (10, "photo", "does not decode as JPEG"),
        (11, "templates", "template 1: is not a valid"),
        (12, "templates", "labelled iso19794-2 but the record is ansi378"),
        (13, "templates", "11 templates given; 1 to 10 needed"),
        (14, "templates", "larger than 4096 bytes"),
        (15, "booking_number", "also on line 2"),
        (16, "id_number", "same ID number is booked on 2026-11-25 on line 2"),
        (17, "photo", "larger than 1048576 bytes"),
        (17, "templates", "0 templates given"),
    ];
    for (line, field, reason) in expect {
        assert!(
            errors.iter().any(|(l, f, r)| *l == line && f == field && r.contains(reason)),
            "no error on line {line} {field} containing {reason:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    assert_eq!(body["rows"][0]["booking_number"], json!(null), "an invalid booking number is not echoed");
    assert_eq!(body["rows"][1]["booking_number"], "E-3");
    // Nothing of it is stored, not even the good row or the import record.
    assert!(h.db.store.candidates(None).await.unwrap().is_empty());
    assert!(!h.audit_actions().await.iter().any(|(a, _, _)| a == "roster_imported"));
    let imports = h.db.store.dump().await.unwrap().into_iter().find(|t| t.name == "roster_imports").unwrap();
    assert!(imports.rows.is_empty());

    // JSON errors name the booking by its index.
    let roster = json!({"bookings": [
        {"booking_number": "J1", "id_number": id(1), "session": format!("{DATE} 09:00"), "language": "en",
         "photo": "p.jpg", "templates": [{"file": "f.fmr"}]}]});
    let r = import(&h, &cookie, "json", &roster.to_string(), files(&[("p.jpg", &jpg), ("f.fmr", &iso())])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["rows"], json!([{"line": 1, "booking_number": "J1", "field": "name", "reason": "missing"}]));
    assert_eq!(r.json()["error"]["message"], "1 row has errors");
}

async fn a_booked_row_is_replaced_but_one_at_a_seat_is_not(db: TestDb) {
    let h = harness(db).await;
    let cookie = h.console().await;
    let f = files(&[("p.jpg", &jpeg(6)), ("q.png", &png(7)), ("f.fmr", &iso())]);
    let first = csv(&[
        format!("R1,{},First Name,{DATE} 09:00,en,p.jpg,f.fmr", id(21)),
        format!("R2,{},Other,{DATE} 09:00,en,p.jpg,f.fmr", id(22)),
    ]);
    assert_eq!(import(&h, &cookie, "csv", &first, f.clone()).await.status, StatusCode::OK);
    let again = csv(&[format!("R1,{},Second Name,{DATE} 10:00,fr,q.png,f.fmr", id(21))]);
    let r = import(&h, &cookie, "csv", &again, f.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["rows"].as_u64(), r.json()["replaced"].as_u64()), (Some(1), Some(1)));
    let c = h.db.store.candidate("R1").await.unwrap().unwrap();
    assert_eq!((c.name.as_str(), c.session.as_str(), c.language.as_str()), ("Second Name", "2026-11-25 10:00", "fr"));
    assert_eq!(h.state.sealer.open(&aad::photo("R1"), c.photo.as_deref().unwrap()).unwrap(), png(7));
    assert_eq!(h.db.store.candidates(Some(DATE)).await.unwrap().len(), 2);

    // Another booking may not take an ID number already booked that day.
    let clash = csv(&[format!("R3,{},Third,{DATE} 15:00,en,p.jpg,f.fmr", id(22))]);
    let r = import(&h, &cookie, "csv", &clash, f.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["rows"][0]["field"], "id_number");
    assert!(r.json()["rows"][0]["reason"].as_str().unwrap().contains("booking R2"), "{}", r.text());

    for (state, reason) in [("verifying", "already at a seat"), ("admitted", "admitted")] {
        sql(&h.db, &format!("UPDATE candidates SET state = '{state}', seat_no = '4' WHERE booking_number = 'R1'"))
            .await;
        let r = import(&h, &cookie, "csv", &again, f.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        let row = &r.json()["rows"][0];
        assert_eq!((row["line"].as_u64(), row["field"].as_str()), (Some(2), Some("booking_number")));
        assert!(row["reason"].as_str().unwrap().contains(reason), "{row}");
        assert_eq!(h.db.store.candidate("R1").await.unwrap().unwrap().seat_no.as_deref(), Some("4"));
    }
}

async fn photos_and_templates_are_sealed_at_rest(db: TestDb) {
    let h = harness(db).await;
    let cookie = h.console().await;
    let (photo, template) = (jpeg(8), iso());
    let roster = csv(&[format!("S1,{},Sealed Person,{DATE} 09:00,en,p.jpg,f.fmr", id(31))]);
    let r = import(&h, &cookie, "csv", &roster, files(&[("p.jpg", &photo), ("f.fmr", &template)])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let c = h.db.store.candidate("S1").await.unwrap().unwrap();
    let (sealed_photo, sealed_templates) = (c.photo.unwrap(), c.templates.unwrap());
    for sealed in [&sealed_photo, &sealed_templates] {
        assert!(!sealed.contains(&B64.encode(&photo)[..40]) && !sealed.contains(&B64.encode(&template)[..40]));
    }
    // Another key opens nothing; the photo's seal does not open as the templates.
    let other = Sealer::from_key([9; 32]);
    assert!(other.open(&aad::photo("S1"), &sealed_photo).is_err());
    assert!(h.state.sealer.open(&aad::templates("S1"), &sealed_photo).is_err());
    assert!(h.state.sealer.open(&aad::photo("S2"), &sealed_photo).is_err());
    let key = std::fs::read(h.db.dir.path().join("roster.key")).unwrap();
    assert_eq!(key.len(), 32);
    if h.db.store.kind() == "sqlite" {
        let mut bytes = std::fs::read(h.db.dir.path().join("examgate.db")).unwrap();
        bytes.extend(std::fs::read(h.db.dir.path().join("examgate.db-wal")).unwrap_or_default());
        assert!(contains(&bytes, b"Sealed Person"), "the search finds what is stored in clear");
        for secret in [&photo[photo.len() / 2..photo.len() / 2 + 32], &template[30..62]] {
            assert!(!contains(&bytes, secret), "clear bytes in the database file");
        }
        for whole in [&photo, &template] {
            assert!(!contains(&bytes, &B64.encode(whole).as_bytes()[..48]), "base64 in the database file");
        }
    }
}

async fn personal_data_is_purged_after_the_exam_day(db: TestDb) {
    let h = harness(db).await;
    let cookie = h.console().await;
    let roster = csv(&[
        format!("P1,{},Purged,{DATE} 09:00,en,p.jpg,f.fmr", id(41)),
        format!("P2,{},Tomorrow,2026-11-26 09:00,en,p.jpg,f.fmr", id(42)),
    ]);
    let r = import(&h, &cookie, "csv", &roster, files(&[("p.jpg", &jpeg(9)), ("f.fmr", &iso())])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    sql(
        &h.db,
        "INSERT INTO verifications (id, booking_number, seat_no, key_id, attempt, live_format, enrolled_index, score, \
         server_score, verdict, snapshot_sha256, body, body_sha256, signature, captured_at, received_at) VALUES \
         ('v1', 'P1', '1', 'k', 1, 'iso19794-2', 0, 900, 900, 'match', NULL, 'sealed', 'x', '{}', 1, 1)",
    )
    .await;
    let c = h.db.store.candidate("P1").await.unwrap().unwrap();
    // Midnight after 2026-11-25 in Beijing, plus the default 72 hours.
    let due = roster::purge_at(&h.state.config, DATE.parse().unwrap());
    assert_eq!(c.purge_at, due);
    assert_eq!(due, 1_795_622_400_000 + 72 * 3_600_000);

    let before = h.db.store.purge_roster(due - 1).await.unwrap();
    assert_eq!((before.candidates, before.verifications), (0, 0));
    assert!(h.db.store.candidate("P1").await.unwrap().unwrap().photo.is_some());
    assert!(!h.audit_actions().await.iter().any(|(a, _, _)| a == "roster_purged"), "nothing purged, nothing audited");

    let p = h.db.store.purge_roster(due).await.unwrap();
    assert_eq!((p.candidates, p.verifications), (1, 1));
    let c = h.db.store.candidate("P1").await.unwrap().unwrap();
    assert_eq!((c.photo, c.templates, c.purged_at), (None, None, Some(due)));
    assert_eq!(c.template_count, 1, "the count stays for the record");
    assert!(h.db.store.candidate("P2").await.unwrap().unwrap().photo.is_some(), "tomorrow's stay");
    let dump = h.db.store.dump().await.unwrap();
    let v = dump.iter().find(|t| t.name == "verifications").unwrap();
    let body = v.columns.iter().position(|c| c == "body").unwrap();
    assert_eq!(v.rows[0][body], examgate_server::store::Value::Null);
    let audit: Vec<_> = h.audit_actions().await.into_iter().filter(|(a, _, _)| a == "roster_purged").collect();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].2.contains("1 candidates and 1 verification"), "{}", audit[0].2);
    assert_eq!(h.db.store.purge_roster(due + 1).await.unwrap(), Default::default(), "purged once");

    let r = h.get("/api/v1/roster/P1/photo", &cookie).await;
    assert_eq!((r.status, r.kind().as_str()), (StatusCode::NOT_FOUND, "purged"), "{}", r.text());
    let list = h.get(&format!("/api/v1/roster?date={DATE}"), &cookie).await.json();
    assert_eq!(list["candidates"][0]["has_photo"], false);
}

async fn the_console_lists_today_and_shows_photos(db: TestDb) {
    let h = harness(db).await;
    let today = h.state.clock.today(&h.state.config);
    let cookie = h.console().await;
    // A photo large enough that the import body is far beyond the API's usual 64 KiB.
    let big = photo(image::ImageFormat::Png, 10, 300);
    assert!(big.len() > 200_000);
    let roster = csv(&[format!("T1,{},Today Person,{today} 09:00,ko,big.png,f.fmr", id(51))]);
    let r = import(&h, &cookie, "csv", &roster, files(&[("big.png", &big), ("f.fmr", &iso())])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let list = h.get("/api/v1/roster", &cookie).await.json();
    assert_eq!(list["date"], today.as_str());
    assert_eq!(list["candidates"][0]["booking_number"], "T1");
    let other_day = h.get("/api/v1/roster?date=2001-01-01", &cookie).await.json();
    assert_eq!(other_day["candidates"], json!([]));
    let r = h.get("/api/v1/roster?date=yesterday", &cookie).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = h.get("/api/v1/roster/T1/photo", &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(r.body, big);
    assert_eq!(h.get("/api/v1/roster/NOPE/photo", &cookie).await.status, StatusCode::NOT_FOUND);

    // Without an open console: nothing.
    for path in ["/api/v1/roster", "/api/v1/roster/T1/photo"] {
        assert_eq!(h.get(path, "").await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = import(&h, "", "csv", &roster, json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = import(&h, &cookie, "xlsx", &roster, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = import(&h, &cookie, "csv", &roster, json!({"big.png": "not base64!"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("big.png"), "{}", r.text());
}

fn run(db: &TestDb, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(SERVER)
        .args(args)
        .args(["--database", &db.url, "--data-dir"])
        .arg(db.dir.path())
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// The CLI reads the machine's clock (in its time zone: the data directory has no
/// config), so its bookings are dated from that clock: one today, never due for
/// purging while the test runs (not before 72 hours after today ends), and one
/// long past, due whenever the test runs.
async fn the_cli_imports_a_roster_file_with_its_photos_and_templates(db: TestDb) {
    let h = harness(db).await;
    let today = roster::today(&h.db.config(), examgate_server::now_ms());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("photos")).unwrap();
    std::fs::create_dir_all(dir.path().join("fingers")).unwrap();
    std::fs::write(dir.path().join("photos/1.jpg"), jpeg(11)).unwrap();
    std::fs::write(dir.path().join("fingers/1.fmr"), iso()).unwrap();
    std::fs::write(dir.path().join("fingers/2.fmr"), ansi()).unwrap();
    let good = dir.path().join("roster.csv");
    std::fs::write(
        &good,
        csv(&[
            format!("C1,{},Cli Person,{today} 09:00,ar,photos/1.jpg,fingers/1.fmr;fingers/2.fmr", id(61)),
            format!("OLD,{},Past Person,2020-03-02 09:00,en,photos/1.jpg,fingers/1.fmr", id(64)),
        ]),
    )
    .unwrap();
    let (ok, out) = run(&h.db, &["roster", "import", good.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("imported 2 bookings (0 replaced)"), "{out}");
    // The CLI and the server share the roster key in the data directory.
    let c = h.db.store.candidate("C1").await.unwrap().unwrap();
    assert_eq!(h.state.sealer.open(&aad::photo("C1"), c.photo.as_deref().unwrap()).unwrap(), jpeg(11));
    assert_eq!(c.template_count, 2);

    let (ok, out) = run(&h.db, &["roster", "list", "--date", &today]);
    assert!(ok && out.contains(&format!("C1\t{today} 09:00\tCli Person\tar\tbooked")), "{out}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        csv(&[
            format!("C2,{},Fine,{today} 09:00,en,photos/1.jpg,fingers/1.fmr", id(62)),
            format!("C3,{},Bad,{today} 09:00,en,photos/none.jpg,fingers/1.fmr", id(63)),
        ]),
    )
    .unwrap();
    let (ok, out) = run(&h.db, &["roster", "import", bad.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("line 3: photo: photos/none.jpg: no such file"), "{out}");
    assert!(out.contains("1 row has errors: nothing was imported"), "{out}");
    assert!(h.db.store.candidate("C2").await.unwrap().is_none());

    let backup = dir.path().join("centre.backup");
    let (ok, out) = run(&h.db, &["backup", backup.to_str().unwrap()]);
    assert!(ok && out.contains("roster key") && out.contains("is not in the backup"), "{out}");
    let (ok, out) = run(&h.db, &["roster", "purge"]);
    assert!(ok && out.contains("purged the photos and templates of 1 candidates"), "{out}");
    let old = h.db.store.candidate("OLD").await.unwrap().unwrap();
    assert_eq!((old.photo, old.templates, old.template_count), (None, None, 1), "the past booking is purged");
    let c1 = h.db.store.candidate("C1").await.unwrap().unwrap();
    assert!(c1.photo.is_some() && c1.templates.is_some() && c1.purged_at.is_none(), "today's booking is kept");
    let (ok, out) = run(&h.db, &["roster", "purge"]);
    assert!(ok && out.contains("purged the photos and templates of 0 candidates"), "{out}");
    let (ok, out) = run(&h.db, &["roster", "import", dir.path().join("roster.txt").to_str().unwrap()]);
    assert!(!ok && out.contains(".csv or .json"), "{out}");
}

/// The running server purges on its own, at `[roster] purge_check_secs`: a roster of a
/// past exam day imported while it runs loses its photos and templates without a command.
async fn the_running_server_purges_on_its_schedule(db: TestDb) {
    use std::io::BufRead;
    let h = harness(db).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.jpg"), jpeg(5)).unwrap();
    std::fs::write(dir.path().join("p.fmr"), iso()).unwrap();
    let roster = dir.path().join("old.csv");
    std::fs::write(&roster, csv(&[format!("OLD1,{},Past Person,2020-03-02 09:00,en,p.jpg,p.fmr", id(71))])).unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "[roster]\nutc_offset = \"+08:00\"\npurge_after_hours = 0\npurge_check_secs = 1\n")
        .unwrap();
    let mut server = std::process::Command::new(SERVER)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .args(["--database", &h.db.url, "--data-dir"])
        .arg(h.db.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("listening on") {
        line.clear();
    }
    assert!(line.contains("listening on"), "the server did not start");
    // Imported after the server's first purge: only its schedule can purge it.
    let (ok, text) = run(&h.db, &["roster", "import", roster.to_str().unwrap()]);
    assert!(ok, "{text}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let purged = loop {
        let c = h.db.store.candidate("OLD1").await.unwrap().unwrap();
        if c.purged_at.is_some() || std::time::Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(purged.purged_at.is_some(), "not purged within 30 s");
    assert_eq!((purged.photo, purged.templates), (None, None));
    assert_eq!(purged.template_count, 1, "what remains says how many there were");
}

both_databases!(
    the_running_server_purges_on_its_schedule,
    a_csv_roster_is_imported_with_its_files_sealed,
    a_json_roster_takes_files_or_inline_data,
    every_bad_row_is_reported_and_nothing_is_stored,
    a_booked_row_is_replaced_but_one_at_a_seat_is_not,
    photos_and_templates_are_sealed_at_rest,
    personal_data_is_purged_after_the_exam_day,
    the_console_lists_today_and_shows_photos,
    the_cli_imports_a_roster_file_with_its_photos_and_templates,
);

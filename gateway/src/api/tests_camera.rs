//! The camera endpoints and the scheduler against the simulated camera, in
//! process: snapshots stored with their flags, faults as events, previews.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use examgate_protocol::Event;
use examgate_sim::SimCameraFactory;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tower::ServiceExt;

use super::*;
use crate::camera::{ScheduleSettings, SnapshotSettings};
use crate::devices::{Driver, ManagerOptions};
use crate::selector::DeviceSelector;
use crate::snapshot::{ExamWindow, ScheduleSeed, SnapshotPolicy, SnapshotStore, StoreLimits};

struct Seat {
    _dir: tempfile::TempDir,
    state: AppState,
    app: Router,
}

fn camera(selector: &str) -> Driver {
    let selector: DeviceSelector = selector.parse().unwrap();
    let DeviceSelector::SimCamera { config, .. } = &selector else { panic!("not a sim camera") };
    Driver::simulated(selector.clone(), Arc::new(SimCameraFactory::new(config.clone())))
}

fn seat_with(drivers: Vec<Driver>, tune: impl FnOnce(&mut SnapshotSettings)) -> Seat {
    let dir = tempfile::tempdir().unwrap();
    let mut snapshots = SnapshotSettings { dir: dir.path().join("snapshots"), ..SnapshotSettings::default() };
    snapshots.exam.seat = "A-017".parse().unwrap();
    snapshots.exam.exam = "k1-am".parse().unwrap();
    tune(&mut snapshots);
    let options = ManagerOptions {
        poll_interval: Duration::from_millis(20),
        presence_interval: Duration::from_millis(50),
        ..ManagerOptions::default()
    };
    let state = AppState::new(DeviceManager::start(drivers, options), Settings { snapshots, ..Settings::default() });
    Seat { _dir: dir, app: app(state.clone()), state }
}

fn seat(selector: &str) -> Seat {
    seat_with(vec![camera(selector)], |_| {})
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

impl Seat {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
        Reply { status, headers, body }
    }

    async fn snapshot(&self, body: Value) -> Value {
        let request = Request::post("/v1/camera/snapshot")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let r = self.send(request).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.json()
    }

    async fn sim(&self, device: &str, command: &str) {
        self.state.devices().sim_command(device, command).await.unwrap();
    }

    fn store(&self) -> SnapshotStore {
        SnapshotStore::open(&self.state.snapshots().settings().dir, StoreLimits::default()).unwrap()
    }
}

fn flags(v: &Value) -> Vec<String> {
    v["record"]["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
}

async fn next(rx: &mut broadcast::Receiver<Event>, wanted: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = rx.recv().await.expect("events");
            if wanted(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the event within the deadline")
}

#[tokio::test]
async fn a_snapshot_is_a_jpeg_stored_with_its_record_and_announced() {
    let s = seat("sim:camera?size=320x240");
    let mut events = s.state.devices().subscribe();
    let v = s.snapshot(json!({"reason": "identity_verification"})).await;
    let record = &v["record"];
    assert_eq!((record["seat"].as_str(), record["exam"].as_str()), (Some("A-017"), Some("k1-am")));
    assert_eq!(record["reason"], "identity_verification");
    assert_eq!(record["flags"], json!([]), "{v}");
    assert_eq!((record["width"].as_u64(), record["height"].as_u64()), (Some(320), Some(240)));
    let jpeg = base64::engine::general_purpose::STANDARD.decode(v["jpeg"].as_str().unwrap()).unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG starts with SOI");
    let stored = s.store().get(crate::snapshot::SnapshotId(record["id"].as_i64().unwrap())).unwrap().unwrap();
    let image = stored.image.expect("the picture is stored");
    assert_eq!(image.jpeg, jpeg);
    assert_eq!(record["sha256"], image.sha256_hex());
    let Event::SnapshotTaken { device, snapshot, .. } =
        next(&mut events, |e| matches!(e, Event::SnapshotTaken { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(device, "sim-cam-0");
    assert_eq!(serde_json::to_value(snapshot).unwrap(), v["record"]);
}

#[tokio::test]
async fn each_simulated_fault_is_flagged_and_a_camera_fault() {
    let s = seat_with(
        vec![camera("sim:camera?size=320x240"), camera("sim:camera?size=320x240&name=OBS Virtual Camera")],
        |_| {},
    );
    let mut events = s.state.devices().subscribe();
    assert_eq!(flags(&s.snapshot(json!({})).await), Vec::<String>::new());

    s.sim("sim-cam-0", "cover").await;
    let v = s.snapshot(json!({"device": "sim-cam-0"})).await;
    assert!(flags(&v).contains(&"dark".to_owned()), "{v}");
    let Event::CameraFault { flags: f, snapshot, message, .. } =
        next(&mut events, |e| matches!(e, Event::CameraFault { .. })).await
    else {
        unreachable!()
    };
    assert!(f.contains(&"dark".to_owned()) && snapshot == v["record"]["id"].as_i64(), "{f:?}");
    assert!(message.contains("lens covered"), "{message}");
    s.sim("sim-cam-0", "subject").await;

    s.sim("sim-cam-0", "freeze").await;
    s.snapshot(json!({"device": "sim-cam-0"})).await;
    let v = s.snapshot(json!({"device": "sim-cam-0"})).await;
    assert!(flags(&v).contains(&"frozen".to_owned()), "{v}");
    s.sim("sim-cam-0", "unfreeze").await;

    let v = s.snapshot(json!({"device": "sim-cam-0@2"})).await;
    assert!(flags(&v).contains(&"virtual_camera".to_owned()), "{v}");
    assert_eq!(v["record"]["camera"], "OBS Virtual Camera");

    s.sim("sim-cam-0", "unplug").await;
    let e = next(&mut events, |e| matches!(e, Event::CameraFault { snapshot: None, .. })).await;
    assert_eq!(e.device(), "sim-cam-0");
    let v = s.snapshot(json!({"device": "sim-cam-0"})).await;
    assert_eq!(flags(&v), ["camera_missing"]);
    assert_eq!(v["jpeg"], Value::Null);
    assert_eq!(v["record"]["sha256"], Value::Null);
}

#[tokio::test]
async fn without_a_camera_the_snapshot_records_that_there_is_none() {
    let s = seat_with(vec![], |_| {});
    let v = s.snapshot(json!({})).await;
    assert_eq!(flags(&v), ["camera_missing"]);
    assert_eq!(v["record"]["camera"], "");
    let r = s.send(Request::get("/v1/camera/preview").body(Body::empty()).unwrap()).await;
    assert_eq!((r.status, r.json()["error"]["kind"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn a_full_store_is_the_store_full_alarm() {
    let s = seat_with(vec![camera("sim:camera?size=320x240")], |s| s.limits.max_records = 1);
    s.snapshot(json!({})).await;
    let request = Request::post("/v1/camera/snapshot").body(Body::empty()).unwrap();
    let r = s.send(request).await;
    assert_eq!(r.status, StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(r.json()["error"]["kind"], "store_full");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("NOT being kept"), "{}", r.json());
}

#[tokio::test]
async fn bad_snapshot_requests_are_refused() {
    let s = seat("sim:camera?size=320x240");
    for (body, status) in [
        (json!({"reason": "scheduled"}), StatusCode::BAD_REQUEST),
        (json!({"seed": "00"}), StatusCode::BAD_REQUEST),
        (json!({"device": "nope"}), StatusCode::NOT_FOUND),
    ] {
        let request = Request::post("/v1/camera/snapshot").body(Body::from(body.to_string())).unwrap();
        assert_eq!(s.send(request).await.status, status, "{body}");
    }
    for query in ["fps=0", "fps=9", "format=gif", "colour=red"] {
        let r = s.send(Request::get(format!("/v1/camera/preview?{query}")).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
    }
}

#[tokio::test]
async fn previews_come_as_one_jpeg_or_a_multipart_stream() {
    let s = seat("sim:camera?size=640x480");
    let r = s.send(Request::get("/v1/camera/preview").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(r.headers["x-examgate-flags"], "");
    assert!(r.body.starts_with(&[0xFF, 0xD8]));
    let covered = seat("sim:camera?scene=cover");
    let r = covered.send(Request::get("/v1/camera/preview?device=sim-cam-0").body(Body::empty()).unwrap()).await;
    assert!(r.headers["x-examgate-flags"].to_str().unwrap().contains("dark"));

    let response = s
        .app
        .clone()
        .oneshot(Request::get("/v1/camera/preview?format=mjpeg&fps=5").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "multipart/x-mixed-replace; boundary=examgate-frame");
    let mut body = response.into_body().into_data_stream();
    use futures_util::StreamExt;
    for _ in 0..2 {
        let part = tokio::time::timeout(Duration::from_secs(20), body.next()).await.unwrap().unwrap().unwrap();
        let head_end = part.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&part[..head_end]).unwrap();
        assert!(head.starts_with("--examgate-frame\r\nContent-Type: image/jpeg\r\n"), "{head}");
        assert!(part[head_end + 4..].starts_with(&[0xFF, 0xD8]));
    }
    // The stream ends when the agent shuts down.
    s.state.begin_shutdown();
    let end = tokio::time::timeout(Duration::from_secs(20), async { while body.next().await.is_some() {} });
    end.await.expect("the stream ends at shutdown");
}

#[tokio::test]
async fn the_scheduler_takes_every_scheduled_snapshot_once() {
    // Margins that leave one instant, now, an hour before the end: every
    // snapshot is due at once, none is late for the window.
    let hour = Duration::from_secs(3600);
    let window = ExamWindow { start: SystemTime::now() - hour, length: hour * 2 };
    let policy = SnapshotPolicy { count: 3, min_gap: Duration::ZERO, margin: hour };
    let s = seat_with(vec![camera("sim:camera?size=160x120")], |s| {
        s.schedule = Some(ScheduleSettings { seed: ScheduleSeed::from_bytes([7; 32]), window, policy });
    });
    let mut events = s.state.devices().subscribe();
    let scheduler = tokio::spawn(crate::scheduler::run(
        s.state.devices().clone(),
        Arc::clone(s.state.snapshots()),
        s.state.stopping(),
    ));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let Event::SnapshotTaken { snapshot, .. } =
            next(&mut events, |e| matches!(e, Event::SnapshotTaken { .. })).await
        else {
            unreachable!()
        };
        assert_eq!(snapshot.reason, "scheduled", "the index stays in the agent");
        ids.push(snapshot.id);
    }
    tokio::time::timeout(Duration::from_secs(20), scheduler).await.expect("the scheduler ends").unwrap();
    assert_eq!(s.state.snapshots().scheduled_taken().unwrap(), [0, 1, 2].into());
    // A restarted scheduler takes none twice.
    crate::scheduler::run(s.state.devices().clone(), Arc::clone(s.state.snapshots()), s.state.stopping()).await;
    assert_eq!(s.store().pending(10).unwrap().len(), 3);
}

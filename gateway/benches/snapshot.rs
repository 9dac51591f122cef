//! Capture-to-stored-JPEG: what one snapshot costs the seat PC.
//!
//! For 640x480 and 1280x720 frames in MJPEG and YUYV (what webcams send),
//! `SnapshotService::take` runs end to end: frame in hand → decode → tamper
//! checks → scale to 640x480 and encode at quality 80 → SHA-256 → insert in
//! the SQLite store with `synchronous=FULL` (an fsync per snapshot) on the
//! target directory's disk. The camera replays frames the simulated camera
//! made beforehand, so the figures are the agent's work, not the simulator's.
//!
//! Baselines measured in the same run, on the same frames:
//! - `memcpy`: copying the raw frame (what any capture costs at least);
//! - `encode`: decoding the frame and encoding the stored JPEG alone (the
//!   floor for producing the picture, without checks or storage).
//!
//! Run: `cargo bench -p examgate-agent --bench snapshot`

use std::time::{Duration, Instant};

use examgate_agent::snapshot::{ExamSeat, SnapshotConfig, SnapshotReason, SnapshotService, SnapshotStore, StoreLimits};
use examgate_device_sdk::{Camera, Device, DeviceError, DeviceId, DeviceInfo, DriverFactory, Frame, PixelFormat};
use examgate_sim::{SimCameraConfig, SimCameraFactory};
use examgate_webcam::convert::{encode_jpeg, to_rgb};

const SNAPSHOTS: usize = 200;
const FRAMES: usize = 8;

/// A camera that hands out prepared frames in turn.
struct Replay {
    info: DeviceInfo,
    frames: Vec<Frame>,
    next: usize,
}

impl Device for Replay {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_camera(&mut self) -> Option<&mut dyn Camera> {
        Some(self)
    }
}

impl Camera for Replay {
    fn capture(&mut self, _timeout: Duration) -> Result<Frame, DeviceError> {
        self.next = (self.next + 1) % self.frames.len();
        Ok(self.frames[self.next].clone())
    }
}

/// CPU time of this thread (the snapshot runs on it, SQLite included).
fn cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[derive(Default)]
struct Samples {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Samples {
    fn run(&mut self, f: &mut dyn FnMut()) {
        let (t, c) = (Instant::now(), cpu_time());
        f();
        self.cpu.push(cpu_time() - c);
        self.wall.push(t.elapsed());
    }
    fn p(&self, p: f64) -> Duration {
        let mut sorted = self.wall.clone();
        sorted.sort();
        percentile(&sorted, p)
    }
    /// Median CPU time: robust to the other builds sharing this machine.
    fn cpu(&self) -> Duration {
        let mut sorted = self.cpu.clone();
        sorted.sort();
        percentile(&sorted, 0.5)
    }
}

/// Run the closures in turn, `n` rounds, so that load from other processes
/// falls on all of them alike.
fn interleaved<const K: usize>(n: usize, fs: [&mut dyn FnMut(); K]) -> [Samples; K] {
    let mut out: [Samples; K] = std::array::from_fn(|_| Samples::default());
    let mut fs = fs;
    for f in fs.iter_mut() {
        f(); // warm up caches and allocations
    }
    for _ in 0..n {
        for (f, samples) in fs.iter_mut().zip(out.iter_mut()) {
            samples.run(*f);
        }
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn frames(width: u32, height: u32, format: PixelFormat) -> Vec<Frame> {
    let sim = SimCameraFactory::new(SimCameraConfig { width, height, format, ..Default::default() });
    let mut cam = sim.open(&DeviceId::new("sim-cam-0").unwrap()).unwrap();
    (0..FRAMES).map(|_| cam.as_camera().unwrap().capture(Duration::from_secs(5)).unwrap()).collect()
}

fn main() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let exam = ExamSeat { seat: "A-017".parse().unwrap(), exam: "bench".parse().unwrap() };
    println!(
        "snapshot: capture-to-stored-JPEG, {SNAPSHOTS} snapshots per row, interleaved with the baselines, stored at 640x480 q80, synchronous=FULL"
    );
    println!(
        "| frame | take p50 ms | take p99 ms | take CPU ms | encode p50 ms | encode CPU ms | memcpy p50 µs | take/encode (wall) | take/encode (CPU) | take/memcpy |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (width, height) in [(640, 480), (1280, 720)] {
        for format in [PixelFormat::Mjpeg, PixelFormat::Yuyv] {
            let frames = frames(width, height, format);
            let config = SnapshotConfig::default();
            let jpeg = config.jpeg;

            let dir = tempfile::tempdir_in(base).unwrap();
            let store = SnapshotStore::open(dir.path(), StoreLimits::default()).unwrap();
            let mut service = SnapshotService::new(store, config);
            let info = DeviceInfo {
                id: DeviceId::new("replay").unwrap(),
                name: "HD Pro Webcam C920 [uvcvideo]".into(),
                classes: examgate_device_sdk::DeviceClass::Camera.into(),
            };
            let mut camera = Replay { info, frames: frames.clone(), next: 0 };
            let mut flagged = 0;
            let (mut i, mut j) = (0, 0);
            let [take, encode, memcpy] = interleaved(
                SNAPSHOTS,
                [
                    &mut || {
                        let r = service.take(Some(&mut camera), &exam, SnapshotReason::ExaminerRequest).unwrap();
                        flagged += usize::from(!r.flags.is_empty());
                    },
                    &mut || {
                        i = (i + 1) % FRAMES;
                        let rgb = to_rgb(&frames[i]).unwrap();
                        std::hint::black_box(encode_jpeg(&rgb, &jpeg).unwrap());
                    },
                    &mut || {
                        j = (j + 1) % FRAMES;
                        std::hint::black_box(frames[j].clone());
                    },
                ],
            );
            assert_eq!(flagged, 0, "replayed live frames must not be flagged");
            let stored = service.store().usage();
            assert_eq!(stored.records as usize, SNAPSHOTS + 1);

            let name = match format {
                PixelFormat::Mjpeg => "MJPEG",
                PixelFormat::Yuyv => "YUYV",
                _ => unreachable!(),
            };
            let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
            println!(
                "| {width}x{height} {name} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.0} |",
                ms(take.p(0.5)),
                ms(take.p(0.99)),
                ms(take.cpu()),
                ms(encode.p(0.5)),
                ms(encode.cpu()),
                us(memcpy.p(0.5)),
                ratio(take.p(0.5), encode.p(0.5)),
                ratio(take.cpu(), encode.cpu()),
                ratio(take.p(0.5), memcpy.p(0.5)),
            );
        }
    }
}

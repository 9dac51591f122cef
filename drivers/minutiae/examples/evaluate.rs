//! Accuracy and speed of the examgate matcher next to NIST Bozorth3 (through `nbis-rs`),
//! on the synthetic evaluation corpus, in one run:
//!
//! ```text
//! cargo run --release -p examgate-minutiae --example evaluate [-- --print-table]
//! ```
//!
//! It also re-derives the calibration table from this run's scores and exits with status 1
//! when the committed `calibration::TABLE` has drifted from it (`--print-table` prints the
//! table to commit).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use examgate_minutiae::calibration::{
    self, CALIBRATION_IMPOSTOR_IMPRESSIONS, CORPUS_FINGERS, CORPUS_IMPRESSIONS, CORPUS_SEED,
};
use examgate_minutiae::synthetic::{self, ImpressionParams};
use examgate_minutiae::{MinutiaeRecord, PreparedTemplate, encode, parse};

/// NBIS's Bozorth3 called directly, fed as NBIS's own `bozorth3` program feeds it from an
/// `.xyt` file: integer degrees (not nbis-rs's 11.25-degree steps), theta in -179..=180,
/// origin bottom left, sorted by x then y. The C code is the one nbis-rs compiles and links.
mod bozorth_direct {
    use std::os::raw::c_int;

    use examgate_minutiae::MinutiaeRecord;

    /// MAX_BOZORTH_MINUTIAE in NBIS's bozorth.h.
    const MAX: usize = 200;

    /// `struct xyt_struct` of NBIS's bozorth.h.
    #[repr(C)]
    pub struct Xyt {
        nrows: c_int,
        x: [c_int; MAX],
        y: [c_int; MAX],
        theta: [c_int; MAX],
    }

    unsafe extern "C" {
        /// bz_drvrs.c: builds both pair tables and matches; keeps state in C globals.
        fn bozorth_main(probe: *const Xyt, gallery: *const Xyt) -> c_int;
    }

    pub fn from_record(record: &MinutiaeRecord) -> Box<Xyt> {
        let mut points: Vec<(c_int, c_int, c_int)> = record.views[0]
            .minutiae
            .iter()
            .take(MAX)
            .map(|m| {
                let theta = m.angle.degrees().round() as c_int % 360;
                let theta = if theta > 180 { theta - 360 } else { theta };
                (c_int::from(m.x), c_int::from(record.height) - c_int::from(m.y), theta)
            })
            .collect();
        points.sort_by_key(|p| (p.0, p.1));
        let mut xyt = Box::new(Xyt { nrows: points.len() as c_int, x: [0; MAX], y: [0; MAX], theta: [0; MAX] });
        for (i, p) in points.iter().enumerate() {
            (xyt.x[i], xyt.y[i], xyt.theta[i]) = *p;
        }
        xyt
    }

    /// Call only from one thread, after one nbis-rs `compare` (which points NBIS's error
    /// stream at stderr).
    pub fn score(probe: &Xyt, gallery: &Xyt) -> i32 {
        // SAFETY: both pointers come from live references to structs laid out as NBIS's
        // xyt_struct with nrows <= MAX; bozorth_main only reads them. The example calls it
        // from the main thread only, as Bozorth3's C globals require.
        unsafe { bozorth_main(probe, gallery) }
    }
}

/// Seeds of the held-out impostor corpus and of the speed set: never used for calibration.
const HELD_OUT_SEED: u64 = CORPUS_SEED + 1;
const SPEED_SEED: u64 = CORPUS_SEED + 2;

fn main() -> ExitCode {
    let print_table = std::env::args().any(|a| a == "--print-table");
    let params = ImpressionParams::default();

    let t = Instant::now();
    let corpus = synthetic::corpus(CORPUS_SEED, CORPUS_FINGERS, CORPUS_IMPRESSIONS, &params);
    let bytes: Vec<Vec<Vec<u8>>> =
        corpus.iter().map(|f| f.iter().map(|r| encode(r).expect("synthetic records encode")).collect()).collect();
    let counts: Vec<usize> = corpus.iter().flatten().map(|r| r.views[0].minutiae.len()).collect();
    let in_range = counts.iter().filter(|&&n| (30..=70).contains(&n)).count();
    println!("# examgate-minutiae evaluation");
    println!();
    println!(
        "corpus: seed {CORPUS_SEED}, {CORPUS_FINGERS} fingers x {CORPUS_IMPRESSIONS} impressions (ISO 19794-2:2005), \
         generated in {:.1?}",
        t.elapsed()
    );
    println!(
        "minutiae per impression: min {}, mean {:.1}, max {}; {:.1}% within 30..=70",
        counts.iter().min().unwrap_or(&0),
        counts.iter().sum::<usize>() as f64 / counts.len().max(1) as f64,
        counts.iter().max().unwrap_or(&0),
        100.0 * in_range as f64 / counts.len().max(1) as f64
    );

    // Both matchers read the same bytes.
    let ours: Vec<Vec<PreparedTemplate>> = bytes
        .iter()
        .map(|f| {
            f.iter().map(|b| PreparedTemplate::from_record(&parse(b).expect("own records parse")).unwrap()).collect()
        })
        .collect();
    let theirs: Vec<Vec<nbis::Minutiae>> = bytes
        .iter()
        .map(|f| f.iter().map(|b| nbis::load_iso_19794_2_2005(b).expect("nbis reads the records")).collect())
        .collect();

    let genuine_pairs: Vec<(usize, usize, usize, usize)> = (0..CORPUS_FINGERS)
        .flat_map(|f| (0..CORPUS_IMPRESSIONS).flat_map(move |i| (i + 1..CORPUS_IMPRESSIONS).map(move |j| (f, i, f, j))))
        .collect();
    let impostor_pairs: Vec<(usize, usize, usize, usize)> =
        (0..CORPUS_FINGERS).flat_map(|a| (a + 1..CORPUS_FINGERS).map(move |b| (a, 0, b, 0))).collect();
    println!(
        "comparisons: {} genuine (all impression pairs of a finger), {} impostor (first impressions of every two fingers)",
        genuine_pairs.len(),
        impostor_pairs.len()
    );

    let t = Instant::now();
    let our_raw = |pairs: &[(usize, usize, usize, usize)]| -> Vec<f32> {
        pairs.iter().map(|&(a, i, b, j)| ours[a][i].match_detail(&ours[b][j]).raw).collect()
    };
    let our_gen = our_raw(&genuine_pairs);
    let our_imp = our_raw(&impostor_pairs);
    let our_time = t.elapsed();
    let t = Instant::now();
    // Bozorth3 keeps state in C globals: this thread only.
    let bz = |pairs: &[(usize, usize, usize, usize)]| -> Vec<f32> {
        pairs.iter().map(|&(a, i, b, j)| theirs[a][i].compare(&theirs[b][j]) as f32).collect()
    };
    let bz_gen = bz(&genuine_pairs);
    let bz_imp = bz(&impostor_pairs);
    let bz_time = t.elapsed();
    let direct: Vec<Vec<Box<bozorth_direct::Xyt>>> =
        corpus.iter().map(|f| f.iter().map(bozorth_direct::from_record).collect()).collect();
    let t = Instant::now();
    let bzd = |pairs: &[(usize, usize, usize, usize)]| -> Vec<f32> {
        pairs.iter().map(|&(a, i, b, j)| bozorth_direct::score(&direct[a][i], &direct[b][j]) as f32).collect()
    };
    let bzd_gen = bzd(&genuine_pairs);
    let bzd_imp = bzd(&impostor_pairs);
    let bzd_time = t.elapsed();
    println!(
        "wall time for all comparisons: examgate {our_time:.1?}, Bozorth3 via nbis-rs {bz_time:.1?}, \
         Bozorth3 direct {bzd_time:.1?}"
    );

    // Calibration: what the committed table should be, from this run, on more impostors
    // than the side-by-side set (which is its k = 0 part).
    let calibration_pairs: Vec<(usize, usize, usize, usize)> = (0..CALIBRATION_IMPOSTOR_IMPRESSIONS)
        .flat_map(|k| (0..CORPUS_FINGERS).flat_map(move |a| (a + 1..CORPUS_FINGERS).map(move |b| (a, k, b, k))))
        .collect();
    let calibration_imp = our_raw(&calibration_pairs);
    let derived = calibration::derive(&our_gen, &calibration_imp);
    let drifted = !calibration::same_table(calibration::TABLE, &derived, 0.01);
    let calibration_above = calibration_imp.iter().filter(|&&r| calibration::calibrate(r).is_match()).count();
    let cal = |raw: &[f32]| -> Vec<f32> { raw.iter().map(|&r| f32::from(calibration::calibrate(r).get())).collect() };
    let (our_gen_cal, our_imp_cal) = (cal(&our_gen), cal(&our_imp));

    let ours_roc = Roc::new(&our_gen, &our_imp);
    let bz_roc = Roc::new(&bz_gen, &bz_imp);
    let bzd_roc = Roc::new(&bzd_gen, &bzd_imp);
    println!();
    println!("## Accuracy");
    println!();
    println!("| matcher | EER | FNMR @ FMR 1e-3 | FNMR @ FMR 1e-4 | at its threshold: FMR / FNMR |");
    println!("|---|---|---|---|---|");
    let above = |v: &[f32], t: f32| v.iter().filter(|&&s| s > t).count();
    println!(
        "| examgate-minutiae | {} | {} | {} | score > 800: {}/{} / {} |",
        pct(ours_roc.eer()),
        pct(ours_roc.fnmr_at(1e-3)),
        pct(ours_roc.fnmr_at(1e-4)),
        above(&our_imp_cal, 800.0),
        our_imp_cal.len(),
        pct(1.0 - above(&our_gen_cal, 800.0) as f64 / our_gen_cal.len() as f64),
    );
    for (name, roc, genuine, impostor) in [
        ("Bozorth3 via nbis-rs `compare`", &bz_roc, &bz_gen, &bz_imp),
        ("Bozorth3 direct (NBIS's xyt conventions)", &bzd_roc, &bzd_gen, &bzd_imp),
    ] {
        println!(
            "| {name} | {} | {} | {} | score >= 40: {}/{} / {} |",
            pct(roc.eer()),
            pct(roc.fnmr_at(1e-3)),
            pct(roc.fnmr_at(1e-4)),
            impostor.iter().filter(|&&s| s >= 40.0).count(),
            impostor.len(),
            pct(genuine.iter().filter(|&&s| s < 40.0).count() as f64 / genuine.len() as f64),
        );
    }
    println!();
    println!("examgate calibrated score histogram (1..=1000):");
    histogram(&our_gen_cal, &our_imp_cal, &[1.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 801.0, 900.0]);
    println!();
    let bz_edges = [0.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0, 150.0, 200.0, 400.0];
    println!("Bozorth3 via nbis-rs, raw score histogram:");
    histogram(&bz_gen, &bz_imp, &bz_edges);
    println!();
    println!("Bozorth3 direct, raw score histogram:");
    histogram(&bzd_gen, &bzd_imp, &bz_edges);

    // Held out: impostors from fingers the table never saw.
    let held_out = synthetic::corpus(HELD_OUT_SEED, CORPUS_FINGERS, 1, &params);
    let held: Vec<PreparedTemplate> = held_out.iter().map(|f| PreparedTemplate::from_record(&f[0]).unwrap()).collect();
    let mut held_above = 0usize;
    let mut held_total = 0usize;
    for a in 0..held.len() {
        for b in a + 1..held.len() {
            held_total += 1;
            if calibration::calibrate(held[a].match_detail(&held[b]).raw).is_match() {
                held_above += 1;
            }
        }
    }
    println!();
    println!(
        "held-out impostors (seed {HELD_OUT_SEED}, {CORPUS_FINGERS} new fingers): {held_above} of {held_total} score above 800 \
         with the committed table (FMR {:.1e})",
        held_above as f64 / held_total as f64
    );

    speed(&params);

    println!();
    println!("## Calibration");
    println!();
    println!(
        "derived from this run ({} genuine, {} impostor comparisons): {}",
        our_gen.len(),
        calibration_imp.len(),
        table_code(&derived)
    );
    println!(
        "calibration impostors above 800 with the committed table: {calibration_above} of {} (FMR {:.1e})",
        calibration_imp.len(),
        calibration_above as f64 / calibration_imp.len() as f64
    );
    if drifted {
        println!("committed calibration::TABLE has DRIFTED from it: {}", table_code(calibration::TABLE));
    } else {
        println!("committed calibration::TABLE matches it (within 1%)");
    }
    if print_table {
        println!("\npub const TABLE: &[(f32, f32)] = &{};", table_code(&derived));
    }
    if drifted { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Matches per second of CPU time on this thread (from /proc/thread-self/schedstat, so
/// other processes on the shared machine do not count against it; wall time otherwise).
fn speed(params: &ImpressionParams) {
    let set = forty_minutia_set(params);
    let bytes: Vec<Vec<u8>> = set.iter().map(|r| encode(r).unwrap()).collect();
    let ours: Vec<PreparedTemplate> = set.iter().map(|r| PreparedTemplate::from_record(r).unwrap()).collect();
    let theirs: Vec<nbis::Minutiae> = bytes.iter().map(|b| nbis::load_iso_19794_2_2005(b).unwrap()).collect();
    let direct: Vec<Box<bozorth_direct::Xyt>> = set.iter().map(bozorth_direct::from_record).collect();
    let pairs: Vec<(usize, usize)> = (0..set.len()).flat_map(|a| (a + 1..set.len()).map(move |b| (a, b))).collect();

    let mut sink = 0f64;
    let ours_rate = rate(|| {
        for &(a, b) in &pairs {
            sink += f64::from(ours[a].match_detail(&ours[b]).raw);
        }
        pairs.len()
    });
    let api_rate = rate(|| {
        for &(a, b) in pairs.iter().take(2000) {
            let pa = PreparedTemplate::from_record(&parse(&bytes[a]).unwrap()).unwrap();
            let pb = PreparedTemplate::from_record(&parse(&bytes[b]).unwrap()).unwrap();
            sink += f64::from(pa.match_detail(&pb).raw);
        }
        pairs.len().min(2000)
    });
    let bz_rate = rate(|| {
        for &(a, b) in &pairs {
            sink += f64::from(theirs[a].compare(&theirs[b]));
        }
        pairs.len()
    });
    let bzd_rate = rate(|| {
        for &(a, b) in &pairs {
            sink += f64::from(bozorth_direct::score(&direct[a], &direct[b]));
        }
        pairs.len()
    });
    println!();
    println!("## Speed (one core, 40-minutia templates)");
    println!();
    println!(
        "{} templates of 40 minutiae (seed {SPEED_SEED}), all {} pairs, CPU time of this thread:",
        set.len(),
        pairs.len()
    );
    println!();
    println!("| matcher | matches/s | vs Bozorth3 via nbis-rs | vs Bozorth3 direct |");
    println!("|---|---|---|---|");
    for (name, r) in [
        ("examgate-minutiae, prepared templates", ours_rate),
        ("examgate-minutiae, parse + prepare both + match", api_rate),
        ("Bozorth3 via nbis-rs `compare`", bz_rate),
        ("Bozorth3 direct (`bozorth_main`)", bzd_rate),
    ] {
        println!("| {name} | {r:.0} | {:.1}x | {:.1}x |", r / bz_rate, r / bzd_rate);
    }
    std::hint::black_box(sink);
}

/// 120 impressions (two of each of 60 fingers) cut to the 40 minutiae nearest their centre.
fn forty_minutia_set(params: &ImpressionParams) -> Vec<MinutiaeRecord> {
    let mut out = Vec::new();
    let mut finger_seed = SPEED_SEED * 1_000_003;
    while out.len() < 120 {
        finger_seed += 1;
        let finger = synthetic::Finger::new(finger_seed);
        let pair: Vec<MinutiaeRecord> =
            (1..=2).map(|i| synthetic::impression(&finger, finger_seed * 31 + i, params)).collect();
        if pair.iter().all(|r| r.views[0].minutiae.len() >= 40) {
            for mut r in pair {
                let m = &mut r.views[0].minutiae;
                let (cx, cy) = m.iter().fold((0.0, 0.0), |(x, y), p| (x + f64::from(p.x), y + f64::from(p.y)));
                let (cx, cy) = (cx / m.len() as f64, cy / m.len() as f64);
                let d = |p: &examgate_minutiae::Minutia| (f64::from(p.x) - cx).powi(2) + (f64::from(p.y) - cy).powi(2);
                m.sort_by(|a, b| d(a).total_cmp(&d(b)));
                m.truncate(40);
                m.sort_by_key(|p| (p.x, p.y));
                out.push(r);
            }
        }
    }
    out
}

fn rate(mut run: impl FnMut() -> usize) -> f64 {
    let start = (cpu_time(), Instant::now());
    let mut done = 0usize;
    loop {
        done += run();
        let elapsed = match (start.0, cpu_time()) {
            (Some(a), Some(b)) => b - a,
            _ => start.1.elapsed(),
        };
        if elapsed >= Duration::from_secs(2) {
            return done as f64 / elapsed.as_secs_f64();
        }
    }
}

fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(text.split_whitespace().next()?.parse().ok()?))
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn table_code(table: &[(f32, f32)]) -> String {
    let knots: Vec<String> = table.iter().map(|(r, s)| format!("({r:?}, {s:?})")).collect();
    format!("[{}]", knots.join(", "))
}

fn histogram(genuine: &[f32], impostor: &[f32], edges: &[f32]) {
    println!("| score | genuine | impostor |");
    println!("|---|---|---|");
    for (k, &lo) in edges.iter().enumerate() {
        let hi = edges.get(k + 1).copied().unwrap_or(f32::INFINITY);
        let count = |v: &[f32]| v.iter().filter(|&&s| s >= lo && s < hi).count();
        let label = if hi.is_infinite() { format!("{lo} and above") } else { format!("{lo}..{hi}") };
        println!("| {label} | {} | {} |", count(genuine), count(impostor));
    }
}

/// Error rates for "accept when score >= t" over every threshold.
struct Roc {
    /// (threshold, fmr, fnmr), thresholds increasing.
    points: Vec<(f32, f64, f64)>,
}

impl Roc {
    fn new(genuine: &[f32], impostor: &[f32]) -> Roc {
        let mut g = genuine.to_vec();
        let mut i = impostor.to_vec();
        g.sort_by(|a, b| a.total_cmp(b));
        i.sort_by(|a, b| a.total_cmp(b));
        let mut thresholds: Vec<f32> = g.iter().chain(&i).copied().collect();
        thresholds.push(f32::INFINITY);
        thresholds.sort_by(|a, b| a.total_cmp(b));
        thresholds.dedup();
        let points = thresholds
            .into_iter()
            .map(|t| {
                let fnmr = g.partition_point(|&s| s < t) as f64 / g.len() as f64;
                let fmr = (i.len() - i.partition_point(|&s| s < t)) as f64 / i.len() as f64;
                (t, fmr, fnmr)
            })
            .collect();
        Roc { points }
    }

    /// Where FMR and FNMR cross: the mean of the two at the threshold closest to equal.
    fn eer(&self) -> f64 {
        let mut best = (f64::INFINITY, 0.0);
        for &(_, fmr, fnmr) in &self.points {
            let gap = (fmr - fnmr).abs();
            if gap < best.0 {
                best = (gap, (fmr + fnmr) / 2.0);
            }
        }
        best.1
    }

    /// The lowest FNMR over thresholds whose FMR is at most `fmr`.
    fn fnmr_at(&self, fmr: f64) -> f64 {
        self.points.iter().filter(|p| p.1 <= fmr).map(|p| p.2).fold(1.0, f64::min)
    }
}

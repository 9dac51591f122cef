//! Paper draw latency (`cargo bench -p examgate-server --bench draw`): a
//! 3,000-item bank (30 categories of 40 true/false, 40 single and 20 multiple
//! choice items, in two languages), the seeds' two exams, 20,000 draws each
//! from consecutive seeds, one at a time on one core. Prints p50, p99 and max
//! of the wall time and of the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`),
//! which leaves out the time the thread waited for a core on a busy machine.
//! The target (issue 14): p99 under 1 ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use examgate_server::exam::{BankVersion, ChoiceId, ExamDef, Item, ItemKind, Section, Translation, draw};

fn bank() -> BankVersion {
    let mut items = Vec::new();
    for c in 1..=30u32 {
        for (kind, count, choices) in
            [(ItemKind::TrueFalse, 40, 2), (ItemKind::Single, 40, 4), (ItemKind::Multiple, 20, 5)]
        {
            for n in 0..count {
                let ids: Vec<String> = (0..choices).map(|i| char::from(b'A' + i as u8).to_string()).collect();
                let text = |lang: &str| Translation {
                    prompt: format!("{lang} question {c}-{kind}-{n}: a sentence of ordinary length for a prompt"),
                    choices: ids.iter().map(|i| (i.clone(), format!("{lang} choice {i}"))).collect(),
                    media: vec![],
                };
                items.push(Item {
                    id: format!("C{c:02}-{kind}-{n:04}"),
                    category: format!("C{c:02}"),
                    kind,
                    points: 1,
                    correct: if kind == ItemKind::Multiple { vec!["A".into(), "C".into()] } else { vec!["A".into()] },
                    shuffle: true,
                    choices: ids.iter().map(|i| ChoiceId { id: i.clone(), fixed: false }).collect(),
                    translations: BTreeMap::from([("zh-CN".into(), text("zh")), ("en".into(), text("en"))]),
                });
            }
        }
    }
    BankVersion::new(items)
}

/// `per_kind` items of each kind spread over the 30 categories, one section per category and kind.
fn exam(id: &str, minutes: u32, per_kind: &[(ItemKind, u32)], points: u32) -> ExamDef {
    let mut sections = Vec::new();
    for &(kind, total) in per_kind {
        for c in 1..=30u32 {
            let k = total / 30 + u32::from(c <= total % 30);
            if k > 0 {
                sections.push(Section {
                    id: format!("C{c:02}-{kind}"),
                    categories: vec![format!("C{c:02}")],
                    kind: Some(kind),
                    select: k,
                    points: Some(points),
                    shuffle: true,
                });
            }
        }
    }
    ExamDef { id: id.into(), name: id.into(), minutes, pass_score: Some(90), sections, shuffle: true }
}

/// This thread's CPU time.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid struct we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let bank = bank();
    assert_eq!(bank.items.len(), 3_000);
    let exams = [
        exam("C1 Subject One", 45, &[(ItemKind::TrueFalse, 40), (ItemKind::Single, 60)], 1),
        exam("Subject Four", 30, &[(ItemKind::TrueFalse, 20), (ItemKind::Single, 20), (ItemKind::Multiple, 10)], 2),
    ];
    println!("paper draw from a {}-item bank, 20,000 seeds per exam", bank.items.len());
    println!(
        "{:<16} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "exam", "items", "wall p50", "p99", "max", "cpu p50", "p99", "max"
    );
    for exam in &exams {
        for seed in 0..1_000 {
            std::hint::black_box(draw(exam, &bank, seed).expect("the bank fills the exam"));
        }
        let mut wall = Vec::with_capacity(20_000);
        let mut cpu = Vec::with_capacity(20_000);
        for seed in 0..20_000u64 {
            let (start, cpu_start) = (Instant::now(), cpu_now());
            let paper = draw(exam, &bank, seed).expect("the bank fills the exam");
            cpu.push(cpu_now() - cpu_start);
            wall.push(start.elapsed());
            std::hint::black_box(paper);
        }
        wall.sort();
        cpu.sort();
        println!(
            "{:<16} {:>6} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}",
            exam.id,
            exam.total_items(),
            percentile(&wall, 0.5),
            percentile(&wall, 0.99),
            wall[wall.len() - 1],
            percentile(&cpu, 0.5),
            percentile(&cpu, 0.99),
            cpu[cpu.len() - 1]
        );
    }
}

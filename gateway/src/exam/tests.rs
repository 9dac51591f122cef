//! The exam at the seat without a server: a package and a manifest signed by
//! the tests' own key go through the same checks, then answers, flags,
//! position, submission and the outbox are looked at directly.

use std::io::Write;
use std::sync::{Arc, Mutex};

use examgate_protocol::exam::{
    ExamInfo, ExamResultState, ExamScore, HeldAnswer, ItemKind, PaperChoice, PaperDoc, PaperItem, PaperMedia, TextDir,
};
use examgate_protocol::link::Delivery;

use super::manifest::testing::Signer;
use super::package::testing::package;
use super::*;

pub(crate) const NOW: i64 = 1_800_000_000_000;
/// The server's clock runs 5 s ahead of the agent's in these tests.
pub(crate) const OFFSET: i64 = 5_000;
pub(crate) const DEADLINE: i64 = NOW + OFFSET + 45 * 60_000;

pub(crate) fn doc(paper_id: &str) -> PaperDoc {
    let item = |n: u32, kind: ItemKind, ids: &[&str]| PaperItem {
        id: format!("q{n}"),
        number: n,
        kind,
        language: "en".into(),
        dir: TextDir::Ltr,
        prompt: format!("Question {n}"),
        media: if n == 1 {
            vec![PaperMedia { path: "media/ab.png".into(), mime: "image/png".into() }]
        } else {
            Vec::new()
        },
        choices: ids.iter().map(|id| PaperChoice { id: (*id).into(), text: format!("choice {id}") }).collect(),
    };
    PaperDoc {
        paper_id: paper_id.into(),
        exam: ExamInfo {
            id: "c1".into(),
            name: "Subject One".into(),
            minutes: 45,
            pass_score: Some(90.0),
            max_score: 3.0,
        },
        language: "en".into(),
        dir: TextDir::Ltr,
        items: vec![
            item(1, ItemKind::TrueFalse, &["T", "F"]),
            item(2, ItemKind::Single, &["A", "B", "C", "D"]),
            item(3, ItemKind::Multiple, &["A", "B", "C", "D"]),
        ],
    }
}

/// A signed manifest and its package's bytes for paper `paper_id`.
pub(crate) fn paper(signer: &Signer, paper_id: &str) -> (PaperManifest, Vec<u8>) {
    let json = serde_json::to_vec(&doc(paper_id)).unwrap();
    let (bytes, expected) = package(&[("paper.json", &json), ("media/ab.png", b"\x89PNG sign")]);
    (signer.manifest(paper_id, &expected, DEADLINE, NOW + OFFSET), bytes)
}

pub(crate) struct Seat {
    pub dir: tempfile::TempDir,
    pub exam: Exam,
    pub outbox: Outbox,
    pub events: Arc<Mutex<Vec<Event>>>,
}

pub(crate) fn open_seat(dir: tempfile::TempDir) -> Seat {
    let outbox = Outbox::open(dir.path()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let exam = Exam::open(dir.path(), None, outbox.clone(), move |e| sink.lock().unwrap().push(e)).unwrap();
    Seat { dir, exam, outbox, events }
}

/// A seat with paper `p1` downloaded and installed.
pub(crate) fn ready_seat() -> Seat {
    let seat = open_seat(tempfile::tempdir().unwrap());
    let signer = Signer::new();
    let (m, bytes) = paper(&signer, "p1");
    let expected = verify(&m, &signer.key()).unwrap();
    assert_eq!(expected.size, bytes.len() as u64);
    assert!(seat.exam.accept_manifest(&m, OFFSET, NOW).unwrap(), "a new paper");
    assert_eq!(seat.exam.status(NOW).unwrap().state, "downloading");
    let part = seat.exam.partial("p1");
    part.append_from(0).unwrap().write_all(&bytes).unwrap();
    seat.exam.install("p1").unwrap();
    seat
}

use super::manifest::verify;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn deliveries(outbox: &Outbox) -> Vec<(String, Delivery)> {
    let mut out = Vec::new();
    while let Ok(item) = outbox.next_due(i64::MAX).unwrap() {
        out.push((item.idempotency_key.clone(), serde_json::from_slice(&item.body).unwrap()));
        outbox.delivered(item.id).unwrap();
    }
    out
}

#[test]
fn an_installed_paper_is_ready_and_announced() {
    let seat = ready_seat();
    let status = seat.exam.status(NOW).unwrap();
    assert_eq!((status.state, status.total, status.deadline), ("ready", Some(3), Some(DEADLINE)));
    assert_eq!((status.server_offset_ms, status.server_now), (Some(OFFSET), Some(NOW + OFFSET)));
    assert_eq!(status.exam.unwrap().name, "Subject One");
    assert!(matches!(&seat.events.lock().unwrap()[..], [Event::ExamReady { paper_id, .. }] if paper_id == "p1"));
    let doc: PaperDoc = serde_json::from_slice(&seat.exam.paper_json().unwrap()).unwrap();
    assert_eq!(doc.items.len(), 3);
    assert_eq!(seat.exam.media("ab.png").unwrap(), (b"\x89PNG sign".to_vec(), "image/png".to_owned()));
    assert_eq!(seat.exam.media("media/ab.png").unwrap().0, b"\x89PNG sign");
    for bad in ["../paper.json", "paper.json", "media/other.png", "../../exam.sqlite"] {
        assert!(matches!(seat.exam.media(bad), Err(ExamError::NoMedia(_))), "{bad}");
    }
    assert!(!seat.exam.partial("p1").path().exists(), "the download is gone once unpacked");
}

#[test]
fn answers_are_durable_queued_once_each_and_survive_a_reopen() {
    let seat = ready_seat();
    seat.exam.start(NOW).unwrap();
    let a = seat.exam.answer("q1", s(&["T"]), NOW + 1_000).unwrap();
    assert_eq!(a, Saved { item: "q1".into(), choices: s(&["T"]), seq: 1, saved_at: NOW + OFFSET + 1_000 });
    let b = seat.exam.answer("q3", s(&["A", "C"]), NOW + 2_000).unwrap();
    let c = seat.exam.answer("q1", s(&["F"]), NOW + 3_000).unwrap();
    assert_eq!((b.seq, c.seq), (2, 3));
    seat.exam.flag("q2", true).unwrap();
    seat.exam.position("q3").unwrap();
    assert_eq!(seat.exam.status(NOW).unwrap().pending_outbox, 3);

    let Seat { dir, outbox, exam, .. } = seat;
    drop(exam);
    let seat = open_seat(dir);
    let status = seat.exam.status(NOW + 4_000).unwrap();
    assert_eq!(status.state, "in_progress");
    assert_eq!(status.answers, [("q1".into(), s(&["F"])), ("q3".into(), s(&["A", "C"]))].into());
    assert_eq!((status.flagged, status.current), (s(&["q2"]), Some("q3".into())));
    assert_eq!(status.started_at, Some(NOW + OFFSET));

    let sent = deliveries(&outbox);
    let keys: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["exam-p1-1", "exam-p1-2", "exam-p1-3"], "each change once, under its (paper, seq)");
    let DeliveryItem::ExamAnswer { item, choices, seq, booking_number, .. } = &sent[2].1.item else { panic!() };
    assert_eq!((item.as_str(), choices, *seq, booking_number.as_str()), ("q1", &s(&["F"]), 3, "20261125001"));
    assert_eq!(sent[2].1.exam, "c1");
}

#[test]
fn an_outbox_item_already_there_under_its_key_is_not_queued_twice() {
    let seat = ready_seat();
    // A change whose item reached the outbox, as if a former store was lost with the answer in it.
    seat.outbox.enqueue_keyed("exam-p1-1", "exam_answer", b"{}", 0).unwrap();
    assert_eq!(seat.exam.answer("q2", s(&["B"]), NOW).unwrap().seq, 1);
    assert_eq!(seat.outbox.pending_with_prefix("exam-p1-").unwrap(), 1, "one item under that key");
    assert_eq!(seat.outbox.next_due(i64::MAX).unwrap().unwrap().body, b"{}", "the first one stays");
}

#[test]
fn answers_are_refused_for_unknown_items_bad_choices_after_the_deadline_and_after_submission() {
    let seat = ready_seat();
    let e = seat.exam.answer("q9", s(&["A"]), NOW).unwrap_err();
    assert!(matches!(e, ExamError::UnknownItem(_)), "{e}");
    for (item, choices) in [("q2", s(&["E"])), ("q2", s(&["A", "B"])), ("q3", s(&["A", "A"])), ("q1", s(&["A"]))] {
        let e = seat.exam.answer(item, choices.clone(), NOW).unwrap_err();
        assert!(matches!(e, ExamError::BadChoices(_)), "{item} {choices:?}: {e}");
    }
    let late = DEADLINE - OFFSET;
    assert!(matches!(seat.exam.answer("q2", s(&["A"]), late), Err(ExamError::PastDeadline)));
    assert!(matches!(seat.exam.flag("q9", true), Err(ExamError::UnknownItem(_))));
    assert!(matches!(seat.exam.position("q9"), Err(ExamError::UnknownItem(_))));
    assert_eq!(seat.outbox.counts().unwrap().pending, 0, "nothing refused was queued");

    seat.exam.answer("q2", s(&["A"]), NOW).unwrap();
    let done = seat.exam.submit(SubmitReason::Candidate, NOW + 10).unwrap();
    assert_eq!((done.submitted_at, done.reason, done.result), (NOW + OFFSET + 10, SubmitReason::Candidate, None));
    assert!(matches!(seat.exam.answer("q2", s(&["B"]), NOW + 20), Err(ExamError::Submitted)));
    assert!(matches!(seat.exam.flag("q2", true), Err(ExamError::Submitted)));
    let again = seat.exam.submit(SubmitReason::Timeout, NOW + 30).unwrap();
    assert_eq!(again.submitted_at, done.submitted_at, "one submission");
    let submitted: Vec<_> =
        seat.events.lock().unwrap().iter().filter(|e| matches!(e, Event::ExamSubmitted { .. })).cloned().collect();
    assert_eq!(submitted.len(), 1);
    let sent = deliveries(&seat.outbox);
    let DeliveryItem::ExamSubmit { seq, reason, .. } = &sent.last().unwrap().1.item else { panic!() };
    assert_eq!((*seq, *reason), (2, SubmitReason::Candidate));
    assert_eq!(seat.exam.status(NOW).unwrap().state, "submitted");
}

#[test]
fn the_result_is_taken_once_and_a_paper_the_server_closed_is_closed_here() {
    let seat = ready_seat();
    seat.exam.answer("q2", s(&["A"]), NOW).unwrap();
    let result = ExamResult {
        paper_id: "p1".into(),
        state: ExamResultState::Submitted,
        answered: 1,
        total: 3,
        deadline: DEADLINE,
        result: Some(ExamScore {
            score: 1.0,
            max_score: 3.0,
            passed: Some(false),
            submitted_at: DEADLINE + 30_000,
            reason: SubmitReason::Timeout,
        }),
    };
    assert!(seat.exam.take_result(&result).unwrap());
    assert!(!seat.exam.take_result(&result).unwrap(), "announced once");
    let status = seat.exam.status(NOW).unwrap();
    assert_eq!((status.state, status.submit_reason), ("finished", Some(SubmitReason::Timeout)));
    assert_eq!(status.result.unwrap().score, 1.0);
    assert!(matches!(seat.exam.answer("q2", s(&["B"]), NOW), Err(ExamError::Submitted)));
    assert!(seat.events.lock().unwrap().iter().any(|e| matches!(e, Event::ExamResult { passed: Some(false), .. })));
}

#[test]
fn a_spare_pc_continues_from_the_answers_the_server_holds() {
    let seat = ready_seat();
    let held: HeldAnswers = [
        ("q1".to_owned(), HeldAnswer { choices: s(&["T"]), seq: 5 }),
        ("q3".to_owned(), HeldAnswer { choices: s(&["B", "D"]), seq: 9 }),
    ]
    .into();
    assert_eq!(seat.exam.merge_held("p1", &held, NOW).unwrap(), 2);
    let status = seat.exam.status(NOW).unwrap();
    assert_eq!(status.answers, [("q1".into(), s(&["T"])), ("q3".into(), s(&["B", "D"]))].into());
    assert_eq!(seat.exam.answer("q2", s(&["C"]), NOW).unwrap().seq, 10, "seq goes on past the server's");
}

#[test]
fn a_package_that_does_not_match_its_manifest_is_not_installed() {
    let seat = open_seat(tempfile::tempdir().unwrap());
    let signer = Signer::new();
    let (m, mut bytes) = paper(&signer, "p1");
    seat.exam.accept_manifest(&m, OFFSET, NOW).unwrap();
    let part = seat.exam.partial("p1");
    part.append_from(0).unwrap().write_all(&bytes[..1000]).unwrap();
    let e = seat.exam.install("p1").unwrap_err();
    assert!(e.to_string().contains("incomplete"), "{e}");
    assert!(part.path().exists(), "a short download is kept to be resumed");
    bytes[1500] ^= 0xff;
    part.append_from(1000).unwrap().write_all(&bytes[1000..]).unwrap();
    let e = seat.exam.install("p1").unwrap_err();
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert!(!part.path().exists(), "a wrong package is started over");
    assert_eq!(seat.exam.status(NOW).unwrap().state, "downloading");
    assert!(matches!(seat.exam.answer("q1", s(&["T"]), NOW), Err(ExamError::NotReady)));
    assert!(seat.events.lock().unwrap().is_empty());
}

#[test]
fn a_paper_leaves_with_its_candidate_and_comes_back_with_them() {
    let seat = ready_seat();
    seat.exam.answer("q2", s(&["B"]), NOW).unwrap();
    assert!(!seat.exam.leave(&Leave::Candidate("someone else".into())).unwrap());
    assert!(!seat.exam.leave(&Leave::AllBut("20261125001".into())).unwrap(), "their own assignment keeps it");
    assert!(seat.exam.leave(&Leave::AllBut("20261125002".into())).unwrap(), "another candidate here");
    assert_eq!(seat.exam.status(NOW).unwrap().state, "none");
    assert!(matches!(seat.exam.answer("q2", s(&["C"]), NOW), Err(ExamError::NoPaper)));
    // Admitted here again: the same paper, with its answers.
    let Seat { dir, exam, .. } = seat;
    let manifest: PaperManifest = {
        let store = ExamStore::open(&dir.path().join(crate::link::outbox::OUTBOX_FILE)).unwrap();
        serde_json::from_str(&store.paper("p1").unwrap().unwrap().manifest).unwrap()
    };
    assert!(exam.accept_manifest(&manifest, OFFSET, NOW).unwrap(), "new to the seat again");
    let status = exam.status(NOW).unwrap();
    assert_eq!((status.state, status.answers.get("q2")), ("in_progress", Some(&s(&["B"]))));
}

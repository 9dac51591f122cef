//! The audit chain: every state change appends a row that holds the hash of
//! the row before it, so an edited, deleted or reordered row breaks the
//! chain where it happened. [`verify`] walks the chain and says where.
//!
//! A row's hash is SHA-256 over its sequence number, time, actor, action,
//! subject, detail and the previous hash, each length-prefixed so that no
//! two different rows hash the same bytes.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// The hash the first row points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as the `action` column names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Enrol,
    Approve,
    Rebind,
    Refuse,
    Deliver,
    Login,
    LoginFailed,
    Logout,
    UserCreated,
    PasswordChanged,
    Command,
    AlertCleared,
    Restore,
    DeviceFault,
    RosterImported,
    RosterPurged,
    // Identity verification at login.
    CandidateClaimed,
    CandidateReleased,
    Verification,
    ScoreDisagreement,
    ExaminerNeeded,
    LoginFinished,
    CardReadAtConsole,
    SeatAssigned,
    ExaminerAdmitted,
    ExaminerRefused,
    SessionLocked,
    // The question bank.
    BankImported,
    // The exam.
    PaperDrawn,
    ExamUnavailable,
    ExamAnswer,
    ExamRefused,
    ExamSubmitted,
    ExamScored,
    ExamDeadlineMoved,
    // Invigilation.
    ExamWarning,
    ExamForced,
    ExamPaused,
    ExamResumed,
    ExamExtended,
    ExamReminder,
    /// A console command refused (the console not open, a bad request).
    ConsoleRefused,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enrol => "enrol",
            Action::Approve => "approve",
            Action::Rebind => "rebind",
            Action::Refuse => "refuse",
            Action::Deliver => "deliver",
            Action::Login => "login",
            Action::LoginFailed => "login_failed",
            Action::Logout => "logout",
            Action::UserCreated => "user_created",
            Action::PasswordChanged => "password_changed",
            Action::Command => "command",
            Action::AlertCleared => "alert_cleared",
            Action::Restore => "restore",
            Action::DeviceFault => "device_fault",
            Action::RosterImported => "roster_imported",
            Action::RosterPurged => "roster_purged",
            Action::CandidateClaimed => "candidate_claimed",
            Action::CandidateReleased => "candidate_released",
            Action::Verification => "verification",
            Action::ScoreDisagreement => "score_disagreement",
            Action::ExaminerNeeded => "examiner_needed",
            Action::LoginFinished => "login_finished",
            Action::CardReadAtConsole => "card_read_at_console",
            Action::SeatAssigned => "seat_assigned",
            Action::ExaminerAdmitted => "examiner_admitted",
            Action::ExaminerRefused => "examiner_refused",
            Action::SessionLocked => "session_locked",
            Action::BankImported => "bank_imported",
            Action::PaperDrawn => "paper_drawn",
            Action::ExamUnavailable => "exam_unavailable",
            Action::ExamAnswer => "exam_answer",
            Action::ExamRefused => "exam_refused",
            Action::ExamSubmitted => "exam_submitted",
            Action::ExamScored => "exam_scored",
            Action::ExamDeadlineMoved => "exam_deadline_moved",
            Action::ExamWarning => "exam_warning",
            Action::ExamForced => "exam_forced",
            Action::ExamPaused => "exam_paused",
            Action::ExamResumed => "exam_resumed",
            Action::ExamExtended => "exam_extended",
            Action::ExamReminder => "exam_reminder",
            Action::ConsoleRefused => "console_refused",
        }
    }
}

/// A row to append: the store adds the sequence number, time and hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `agent:KEY`, `user:NAME`, `cli` or `server`.
    pub actor: String,
    pub action: Action,
    /// What it happened to: `seat:7`, `key:…`, `user:…`.
    pub subject: String,
    /// One line for a person.
    pub detail: String,
}

impl Entry {
    pub fn new(
        actor: impl Into<String>,
        action: Action,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> Entry {
        Entry { actor: actor.into(), action, subject: subject.into(), detail: detail.into() }
    }
}

/// A stored row of the chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain's last sequence number and hash, kept apart from the rows so
/// that cutting rows off the end shows too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// The hash of a row with these contents.
pub fn row_hash(seq: i64, at: i64, actor: &str, action: &str, subject: &str, detail: &str, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    for field in [&seq.to_string(), &at.to_string(), actor, action, subject, detail, prev_hash] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(&h.finalize())
}

/// The row that follows `head`.
pub fn next_row(head: &Head, at: i64, entry: &Entry) -> Row {
    let seq = head.seq + 1;
    let action = entry.action.as_str();
    let hash = row_hash(seq, at, &entry.actor, action, &entry.subject, &entry.detail, &head.hash);
    Row {
        seq,
        at,
        actor: entry.actor.clone(),
        action: action.to_owned(),
        subject: entry.subject.clone(),
        detail: entry.detail.clone(),
        prev_hash: head.hash.clone(),
        hash,
    }
}

fn recompute(row: &Row, seq: i64) -> String {
    row_hash(seq, row.at, &row.actor, &row.action, &row.subject, &row.detail, &row.prev_hash)
}

/// Something wrong with the chain, naming the rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The row's contents no longer give its hash.
    Edited { seq: i64 },
    /// Rows `from..=to` are gone from the middle of the chain.
    Deleted { from: i64, to: i64 },
    /// The row sits at `seq` but was written as row `written_as`.
    Moved { seq: i64, written_as: i64 },
    /// The row does not point back to the row before it (its predecessor was replaced).
    Unlinked { seq: i64 },
    /// The head says the chain ends at `head`, the rows end at `last`.
    Truncated { last: i64, head: i64 },
    /// The last row is not the one the head recorded.
    HeadMismatch { seq: i64 },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Edited { seq } => write!(f, "row {seq} was edited: its contents do not give its hash"),
            Finding::Deleted { from, to } if from == to => write!(f, "row {from} was deleted"),
            Finding::Deleted { from, to } => write!(f, "rows {from} to {to} were deleted"),
            Finding::Moved { seq, written_as } => {
                write!(f, "row {seq} was reordered: it was written as row {written_as}")
            }
            Finding::Unlinked { seq } => write!(
                f,
                "row {seq} does not follow row {}: that row was replaced, or edited and its hash recomputed",
                seq - 1
            ),
            Finding::Truncated { last, head } => {
                write!(f, "rows {} to {head} were cut off the end (the chain's head says {head})", last + 1)
            }
            Finding::HeadMismatch { seq } => write!(
                f,
                "row {seq}, the last, is not the one the chain's head recorded: it was replaced, or edited and its hash recomputed"
            ),
        }
    }
}

/// The position each row was written at, found by following `prev_hash`
/// links back to the genesis or to a row that is in place (reordering
/// leaves those links intact).
fn written_positions(rows: &[Row]) -> HashMap<&str, i64> {
    let by_hash: HashMap<&str, &Row> = rows.iter().map(|r| (r.hash.as_str(), r)).collect();
    let mut known: HashMap<&str, i64> = HashMap::new();
    for row in rows {
        let mut path = Vec::new();
        let mut cur = row;
        let base = loop {
            if let Some(&p) = known.get(cur.hash.as_str()) {
                break Some(p);
            }
            path.push(cur.hash.as_str());
            if cur.prev_hash == GENESIS {
                break Some(0);
            }
            match by_hash.get(cur.prev_hash.as_str()) {
                Some(prev) if path.len() <= rows.len() => cur = prev,
                // The link is gone (a deleted row): a row that hashes right where it is, is in place.
                _ if recompute(cur, cur.seq) == cur.hash => break Some(cur.seq - 1),
                _ => break None,
            }
        };
        if let Some(base) = base {
            for (i, h) in path.iter().rev().enumerate() {
                known.insert(h, base + 1 + i as i64);
            }
        }
    }
    known
}

/// Walks `rows` (in stored sequence order) and reports every break.
pub fn verify(rows: &[Row], head: &Head) -> Vec<Finding> {
    let written = written_positions(rows);
    let mut findings = Vec::new();
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_owned();
    let mut prev_intact = true;
    for row in rows {
        if row.seq > expected_seq {
            findings.push(Finding::Deleted { from: expected_seq, to: row.seq - 1 });
        }
        let intact = recompute(row, row.seq) == row.hash;
        if !intact {
            // A row moved to another place still hashes right with the position it was written at.
            match written.get(row.hash.as_str()) {
                Some(&w) if w != row.seq && recompute(row, w) == row.hash => {
                    findings.push(Finding::Moved { seq: row.seq, written_as: w })
                }
                _ => findings.push(Finding::Edited { seq: row.seq }),
            }
        } else if row.prev_hash != prev_hash && row.seq == expected_seq && prev_intact {
            findings.push(Finding::Unlinked { seq: row.seq });
        }
        prev_intact = intact;
        expected_seq = row.seq + 1;
        prev_hash = row.hash.clone();
    }
    let last = expected_seq - 1;
    if head.seq > last {
        findings.push(Finding::Truncated { last, head: head.seq });
    } else if head.seq < last || (head.hash != prev_hash && findings.is_empty()) {
        findings.push(Finding::HeadMismatch { seq: last });
    }
    findings
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> (Vec<Row>, Head) {
        let mut head = Head { seq: 0, hash: GENESIS.to_owned() };
        let mut rows = Vec::new();
        for i in 1..=n {
            let row = next_row(&head, 1000 + i, &Entry::new("cli", Action::Approve, format!("seat:{i}"), "approved"));
            head = Head { seq: row.seq, hash: row.hash.clone() };
            rows.push(row);
        }
        (rows, head)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (rows, head) = chain(5);
        assert_eq!(verify(&rows, &head), vec![]);
        assert_eq!(verify(&[], &Head { seq: 0, hash: GENESIS.into() }), vec![]);
    }

    #[test]
    fn finds_an_edited_row() {
        let (mut rows, head) = chain(5);
        rows[2].detail = "approved as seat 9".into();
        assert_eq!(verify(&rows, &head), vec![Finding::Edited { seq: 3 }]);
    }

    #[test]
    fn finds_an_edited_row_whose_hash_was_recomputed() {
        let (mut rows, head) = chain(5);
        rows[2].actor = "user:mallory".into();
        rows[2].hash = recompute(&rows[2], 3);
        assert_eq!(verify(&rows, &head), vec![Finding::Unlinked { seq: 4 }]);
    }

    #[test]
    fn finds_deleted_rows() {
        let (mut rows, head) = chain(6);
        rows.drain(2..4);
        assert_eq!(verify(&rows, &head), vec![Finding::Deleted { from: 3, to: 4 }]);
        assert_eq!(Finding::Deleted { from: 3, to: 4 }.to_string(), "rows 3 to 4 were deleted");
    }

    #[test]
    fn finds_rows_cut_off_the_end() {
        let (mut rows, head) = chain(6);
        rows.truncate(4);
        assert_eq!(verify(&rows, &head), vec![Finding::Truncated { last: 4, head: 6 }]);
    }

    #[test]
    fn finds_neighbours_swapped() {
        let (mut rows, head) = chain(6);
        rows[4].seq = 6;
        rows[5].seq = 5;
        rows.sort_by_key(|r| r.seq);
        assert_eq!(
            verify(&rows, &head),
            vec![Finding::Moved { seq: 5, written_as: 6 }, Finding::Moved { seq: 6, written_as: 5 }]
        );
    }

    #[test]
    fn finds_reordered_rows() {
        let (mut rows, head) = chain(5);
        // Swap rows 2 and 4 by renumbering them, as an UPDATE of seq would.
        rows[1].seq = 4;
        rows[3].seq = 2;
        rows.sort_by_key(|r| r.seq);
        assert_eq!(
            verify(&rows, &head),
            vec![Finding::Moved { seq: 2, written_as: 4 }, Finding::Moved { seq: 4, written_as: 2 }]
        );
    }

    #[test]
    fn hashing_is_unambiguous_across_field_boundaries() {
        assert_ne!(row_hash(1, 2, "ab", "c", "", "", GENESIS), row_hash(1, 2, "a", "bc", "", "", GENESIS));
    }
}

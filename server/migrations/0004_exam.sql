-- examgate-server schema, version 4: the exam itself. Same rules as 0001:
-- TEXT and BIGINT only, one file for SQLite and PostgreSQL.
--
-- A paper is drawn once per booking at admission and never changes; what the
-- seat sends changes only the held answers (the change with the highest seq
-- per item wins) and, once, the result. Every change received is kept in the
-- answer log too, so nothing the server acknowledged is ever lost.

CREATE TABLE exam_papers (
    paper_id       TEXT PRIMARY KEY,
    booking_number TEXT NOT NULL UNIQUE,
    -- The seat the candidate was admitted at (moved when re-admitted elsewhere).
    seat_no        TEXT NOT NULL,
    exam_id        TEXT NOT NULL,
    -- The exam definition the paper was drawn by (server/src/exam/bank.rs ExamDef, JSON), kept whole.
    exam_def       TEXT NOT NULL,
    exam_name      TEXT NOT NULL,
    minutes        BIGINT NOT NULL,
    pass_score     BIGINT,
    max_score      BIGINT NOT NULL,
    bank_version   TEXT NOT NULL,
    -- The draw's u64 seed in decimal (BIGINT is signed).
    seed           TEXT NOT NULL,
    paper_sha256   TEXT NOT NULL,
    -- JSON [{"id","section","choices"}] exactly as `paper draw` prints them.
    items          TEXT NOT NULL,
    item_count     BIGINT NOT NULL,
    language       TEXT NOT NULL,
    drawn_at       BIGINT NOT NULL,
    deadline       BIGINT NOT NULL,
    -- in_progress | submitted
    state          TEXT NOT NULL,
    submitted_at   BIGINT,
    -- candidate | timeout | forced
    reason         TEXT,
    score          BIGINT,
    -- 1 passed, 0 failed, NULL: no pass score (or not yet scored)
    passed         BIGINT,
    answered       BIGINT
);
CREATE INDEX exam_papers_open ON exam_papers (state, deadline);
CREATE INDEX exam_papers_seat ON exam_papers (seat_no);

-- The answer the server holds per item: the received change with the highest seq.
CREATE TABLE exam_answers (
    paper_id        TEXT NOT NULL REFERENCES exam_papers (paper_id),
    item_id         TEXT NOT NULL,
    -- JSON list of the item's choice ids; [] clears the answer.
    choices         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    answered_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    PRIMARY KEY (paper_id, item_id)
);

-- Every change received, once per idempotency key, whether it won or not.
CREATE TABLE exam_answer_log (
    paper_id        TEXT NOT NULL REFERENCES exam_papers (paper_id),
    idempotency_key TEXT NOT NULL,
    item_id         TEXT NOT NULL,
    choices         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    answered_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    key_id          TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    -- 1 when it became the held answer, 0 when a higher seq was already held.
    applied         BIGINT NOT NULL,
    PRIMARY KEY (paper_id, idempotency_key)
);

-- The submissions received (the seat's own and the server's at the deadline), once per idempotency key.
CREATE TABLE exam_submissions (
    paper_id        TEXT NOT NULL REFERENCES exam_papers (paper_id),
    idempotency_key TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    key_id          TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    PRIMARY KEY (paper_id, idempotency_key)
);

-- How often each item has been drawn onto a paper (the centre's exposure).
CREATE TABLE exam_exposure (
    item_id      TEXT PRIMARY KEY,
    drawn        BIGINT NOT NULL,
    last_drawn   BIGINT NOT NULL
);

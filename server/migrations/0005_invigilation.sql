-- examgate-server schema, version 5: invigilation during the exam. Same rules
-- as 0001: TEXT and BIGINT only, one file for SQLite and PostgreSQL.
--
-- Every warning, forced submission, pause, resume, extension and end-of-time
-- reminder is one row here, written in the transaction of its audit row and
-- of the command it pushes to the seat (`commands.acked_at` says when the
-- seat acknowledged it).

CREATE TABLE exam_actions (
    id             TEXT PRIMARY KEY,
    paper_id       TEXT NOT NULL REFERENCES exam_papers (paper_id),
    booking_number TEXT NOT NULL,
    seat_no        TEXT NOT NULL,
    -- warning | forced_submission | pause | resume | extension | reminder
    kind           TEXT NOT NULL,
    -- The typed reason (protocol/src/invigilation.rs), or the minutes left of a reminder.
    reason         TEXT NOT NULL,
    -- A warning's text, a forced submission's note.
    note           TEXT NOT NULL,
    -- A warning: the candidate's warnings so far, this one included.
    count          BIGINT,
    -- How far the deadline moved (a resume: the time paused; an extension: its minutes).
    moved_ms       BIGINT,
    -- The deadline after it.
    deadline       BIGINT NOT NULL,
    -- The command pushed to the seat (NULL: the seat had no PC bound).
    command_id     TEXT,
    actor          TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX exam_actions_paper ON exam_actions (paper_id, at);

-- Papers whose clock is stopped now; the deadline closer leaves them alone.
CREATE TABLE exam_pauses (
    paper_id  TEXT PRIMARY KEY REFERENCES exam_papers (paper_id),
    paused_at BIGINT NOT NULL,
    reason    TEXT NOT NULL,
    actor     TEXT NOT NULL
);

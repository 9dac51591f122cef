-- examgate-server schema, version 2: the day's roster and identity
-- verification at login (both of the seeds' modes). Same rules as 0001:
-- TEXT and BIGINT only, one file for SQLite and PostgreSQL.
--
-- Photos, enrolled templates and the evidence of each attempt are personal
-- data: those columns hold "sealed" text (AES-256-GCM under the server's
-- roster key, base64; see server/src/seal.rs) and become NULL when purged.

-- `seat` (an exam PC) or `console` (the examiner's PC, whose agent reads ID cards).
ALTER TABLE machines ADD COLUMN role TEXT NOT NULL DEFAULT 'seat';

-- The console locks after an idle time: the last thing a person did on it.
ALTER TABLE sessions ADD COLUMN last_active BIGINT NOT NULL DEFAULT 0;

-- One row per roster file imported (an import is all or nothing).
CREATE TABLE roster_imports (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    source     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    rows       BIGINT NOT NULL
);

-- The day's bookings, and where each candidate stands at login.
CREATE TABLE candidates (
    booking_number TEXT PRIMARY KEY,
    id_number      TEXT NOT NULL,
    name           TEXT NOT NULL,
    -- The exam session as given, e.g. '2026-11-25 09:00', and its date.
    session        TEXT NOT NULL,
    exam_date      TEXT NOT NULL,
    language       TEXT NOT NULL,
    -- Sealed photo (JPEG or PNG) and sealed JSON [{"format","data"}]; NULL once purged.
    photo          TEXT,
    templates      TEXT,
    template_count BIGINT NOT NULL,
    import_id      TEXT NOT NULL REFERENCES roster_imports (id),
    purge_at       BIGINT NOT NULL,
    purged_at      BIGINT,
    -- booked | assigned | verifying | waiting_for_examiner | admitted | refused
    state          TEXT NOT NULL,
    -- card_at_console (mode a) | seat (mode b); NULL while booked.
    mode           TEXT,
    seat_no        TEXT,
    failures       BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX candidates_id_number ON candidates (id_number, exam_date);
CREATE INDEX candidates_seat ON candidates (seat_no, state);
CREATE INDEX candidates_purge ON candidates (purged_at, purge_at);

-- Every fingerprint attempt at a seat: the seat's signed request kept whole
-- (sealed, as it carries the live template) with the headers that signed it,
-- so the evidence can be re-checked against the seat's key later.
CREATE TABLE verifications (
    id              TEXT PRIMARY KEY,
    booking_number  TEXT NOT NULL,
    seat_no         TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    live_format     TEXT NOT NULL,
    enrolled_index  BIGINT NOT NULL,
    score           BIGINT NOT NULL,
    -- The server's own score for standard formats; NULL for vendor formats.
    server_score    BIGINT,
    -- match | no_match | disagreed
    verdict         TEXT NOT NULL,
    snapshot_sha256 TEXT,
    -- Sealed request body (the VerifyEvidence JSON); NULL once purged.
    body            TEXT,
    body_sha256     TEXT NOT NULL,
    -- JSON of the signature headers: key, timestamp, nonce, mac, content sha256, signature.
    signature       TEXT NOT NULL,
    captured_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL
);
CREATE INDEX verifications_booking ON verifications (booking_number, received_at);

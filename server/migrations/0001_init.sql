-- examgate-server schema, version 1. One file for SQLite and PostgreSQL alike:
-- only TEXT and BIGINT columns, no dialect-specific syntax. Times are Unix
-- milliseconds; hashes are lower-case hex; lists are JSON text.

-- Every PC that enrolled, with the key it signs with.
CREATE TABLE machines (
    key_id        TEXT PRIMARY KEY,
    public_key    TEXT NOT NULL UNIQUE,
    macs          TEXT NOT NULL,
    reported_ip   TEXT NOT NULL,
    source_ip     TEXT NOT NULL,
    host_name     TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    state         TEXT NOT NULL,
    enrolled_at   BIGINT NOT NULL
);

-- Seat number <-> PC (key, its MACs) <-> IP. A seat has one PC at a time.
CREATE TABLE seats (
    seat_no  TEXT PRIMARY KEY,
    key_id   TEXT NOT NULL UNIQUE REFERENCES machines (key_id),
    ip       TEXT NOT NULL,
    bound_at BIGINT NOT NULL,
    bound_by TEXT NOT NULL
);

-- The last heartbeat of each PC.
CREATE TABLE seat_health (
    key_id         TEXT PRIMARY KEY REFERENCES machines (key_id),
    last_seen      BIGINT NOT NULL,
    devices        TEXT NOT NULL,
    outbox_pending BIGINT NOT NULL
);

-- Nonces seen inside the signature window: a second use is a replay.
CREATE TABLE nonces (
    key_id TEXT NOT NULL,
    nonce  TEXT NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_at ON nonces (at);

-- Items agents delivered, each stored once per (key, idempotency key).
CREATE TABLE deliveries (
    key_id          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    seat_no         TEXT NOT NULL,
    exam            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    file_sha256     TEXT,
    metadata        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX deliveries_seat ON deliveries (seat_no, received_at);

CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    seat_no    TEXT,
    key_id     TEXT,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    cleared_at BIGINT,
    cleared_by TEXT
);
CREATE INDEX alerts_open ON alerts (cleared_at, at);

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Console sessions: open once an examiner and an invigilator have both logged in.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    examiner    TEXT,
    invigilator TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Commands for seats, kept until the agent acknowledges them.
CREATE TABLE commands (
    id         TEXT PRIMARY KEY,
    seat_no    TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    acked_at   BIGINT
);
CREATE INDEX commands_pending ON commands (key_id, acked_at);

-- The audit chain: each row holds the hash of the row before it.
CREATE TABLE audit (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- The chain's head: one row, locked by every append so appends are serial
-- even with several servers on one PostgreSQL.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

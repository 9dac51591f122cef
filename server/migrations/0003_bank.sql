-- examgate-server schema, version 3: the question bank and exam definitions.
-- Same rules as 0001: TEXT and BIGINT only, one file for SQLite and PostgreSQL.
--
-- The bank is append-only: an item version is stored once under the SHA-256
-- of its canonical JSON and never changed; a bank version is a set of item
-- versions named by the SHA-256 of its canonical content (see
-- server/src/exam/bank.rs); each import that changes the bank adds a row to
-- bank_imports, and the newest import's version is the current one.

-- Every version of every item: its canonical JSON (server/src/exam/bank.rs `Item`).
CREATE TABLE bank_items (
    sha256     TEXT PRIMARY KEY,
    item_id    TEXT NOT NULL,
    category   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX bank_items_id ON bank_items (item_id);

-- Pictures and videos, once each by SHA-256, base64 (TEXT only), so that an
-- import is one transaction and backups carry them like any table.
CREATE TABLE bank_media (
    sha256     TEXT PRIMARY KEY,
    mime       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    data       TEXT NOT NULL
);

-- One row per bank version: when it was first made and how many items it holds.
CREATE TABLE bank_versions (
    version    TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    items      BIGINT NOT NULL
);

-- Which item versions a bank version holds.
CREATE TABLE bank_version_items (
    version     TEXT NOT NULL REFERENCES bank_versions (version),
    item_id     TEXT NOT NULL,
    item_sha256 TEXT NOT NULL REFERENCES bank_items (sha256),
    PRIMARY KEY (version, item_id)
);

-- Every import that changed the bank or an exam definition, in order; the
-- newest row's version is the current bank.
CREATE TABLE bank_imports (
    seq           BIGINT PRIMARY KEY,
    at            BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    source        TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    version       TEXT REFERENCES bank_versions (version),
    previous      TEXT
);

-- Exam definitions (server/src/exam/bank.rs `ExamDef`, JSON), append-only:
-- the newest row of an exam id is its current definition.
CREATE TABLE exam_defs (
    seq        BIGINT PRIMARY KEY,
    exam_id    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    body       TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX exam_defs_id ON exam_defs (exam_id, seq);

-- The exam a booked candidate takes (NULL: the server's [exam] default).
ALTER TABLE candidates ADD COLUMN exam TEXT;

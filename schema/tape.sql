-- quotetape tape schema, version 1 (PRAGMA user_version = 1).
--
-- The tape is the store of record. Times are integer nanoseconds since the
-- Unix epoch (UTC); prices are REAL as Alpaca sends them; every row keeps the
-- raw message exactly as received, so nothing is lost in translation.
-- A change to this file is a migration: bump user_version, add the step to
-- core/tape.c and document it in schema/MIGRATIONS.md.

CREATE TABLE IF NOT EXISTS sessions (
    id          INTEGER PRIMARY KEY,
    started_ns  INTEGER NOT NULL,
    ended_ns    INTEGER,
    source      TEXT NOT NULL,          -- 'alpaca:iex', 'import:spy.jsonl', ...
    symbols     TEXT,                   -- comma-separated, as asked
    topic       TEXT,                   -- Kafka topic quotes also went to
    host        TEXT
);

CREATE TABLE IF NOT EXISTS quotes (
    seq         INTEGER PRIMARY KEY,    -- tape order = receive order
    session     INTEGER NOT NULL,
    symbol      TEXT NOT NULL,
    t_ns        INTEGER NOT NULL,       -- event time
    recv_ns     INTEGER,                -- local receive time; NULL = unknown
    bid_px      REAL NOT NULL,
    bid_sz      INTEGER NOT NULL,
    bid_ex      TEXT NOT NULL,
    ask_px      REAL NOT NULL,
    ask_sz      INTEGER NOT NULL,
    ask_ex      TEXT NOT NULL,
    cond        TEXT NOT NULL,          -- conditions as compact JSON array text
    tape        TEXT NOT NULL,
    raw         TEXT NOT NULL           -- the message object as received
);

CREATE TABLE IF NOT EXISTS trades (
    seq         INTEGER PRIMARY KEY,
    session     INTEGER NOT NULL,
    symbol      TEXT NOT NULL,
    t_ns        INTEGER NOT NULL,
    recv_ns     INTEGER,
    id          INTEGER NOT NULL,
    px          REAL NOT NULL,
    sz          INTEGER NOT NULL,
    ex          TEXT NOT NULL,
    cond        TEXT NOT NULL,
    tape        TEXT NOT NULL,
    raw         TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS bars (
    seq         INTEGER PRIMARY KEY,
    session     INTEGER NOT NULL,
    symbol      TEXT NOT NULL,
    t_ns        INTEGER NOT NULL,
    recv_ns     INTEGER,
    o REAL NOT NULL, h REAL NOT NULL, l REAL NOT NULL, c REAL NOT NULL,
    v           INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    vw          REAL NOT NULL,
    raw         TEXT NOT NULL
);

-- Outages: no data was received in [from_ns, to_ns).
CREATE TABLE IF NOT EXISTS gaps (
    id          INTEGER PRIMARY KEY,
    session     INTEGER NOT NULL,
    from_ns     INTEGER NOT NULL,
    to_ns       INTEGER NOT NULL,
    reason      TEXT NOT NULL
);

-- How far Kafka has confirmed delivery, per topic: every quote with
-- seq <= acked_seq is in the topic. `quotetape sync` produces the rest.
CREATE TABLE IF NOT EXISTS kafka_acked (
    topic       TEXT PRIMARY KEY,
    acked_seq   INTEGER NOT NULL
);

-- No secondary index on quotes: every read is a scan in seq order (replay,
-- export, windows) or a short scan from the start (time positions), and an
-- index on symbol cost a third of the recorder's insert rate. A tape that
-- needs one for ad-hoc queries can add it: quotetape never relies on its
-- absence.

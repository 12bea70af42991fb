-- Key-bound runtime sessions, the signature replay table, checkouts.

CREATE TABLE runtime_sessions (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    pat_id          TEXT NOT NULL REFERENCES pats(id) ON DELETE CASCADE,
    public_key      BLOB NOT NULL,      -- raw 32-byte Ed25519 key
    key_thumbprint  TEXT NOT NULL,      -- RFC 7638, the JWT's cnf.jkt
    label           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ended_at        INTEGER
);
CREATE INDEX runtime_sessions_by_agent ON runtime_sessions(workspace_id, agent_id, expires_at);

-- A signature seen inside the skew window is a replay: the insert is the check.
CREATE TABLE signature_replays (
    signature_hash BLOB PRIMARY KEY,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX signature_replays_by_expiry ON signature_replays(expires_at);

CREATE TABLE checkouts (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    pat_id          TEXT NOT NULL REFERENCES pats(id) ON DELETE CASCADE,
    session_id      TEXT,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    description     TEXT NOT NULL,
    reference       TEXT,
    status          TEXT NOT NULL DEFAULT 'authorized',
    utc_day         INTEGER NOT NULL,   -- unix seconds / 86400: the cap's day
    idempotency_key TEXT,
    request_sha256  TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (pat_id, idempotency_key)
);
CREATE INDEX checkouts_by_pat_day ON checkouts(pat_id, utc_day);
CREATE INDEX checkouts_by_workspace ON checkouts(workspace_id, id);

-- Running total per PAT and UTC day: the cap check is one primary-key read,
-- updated in the same transaction as the checkout insert.
CREATE TABLE pat_daily_spend (
    pat_id      TEXT NOT NULL REFERENCES pats(id) ON DELETE CASCADE,
    utc_day     INTEGER NOT NULL,
    spent_cents INTEGER NOT NULL,
    PRIMARY KEY (pat_id, utc_day)
) WITHOUT ROWID;

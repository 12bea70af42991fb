-- Latchkey foundation: tenants, people, browser sessions, instance settings, audit trail.
-- Times are unix seconds (UTC). Ids are UUIDv7 strings (time-ordered, so
-- "newest first" and `?before=<id>` paging follow the primary key).

CREATE TABLE workspaces (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    agent_security_mode INTEGER NOT NULL DEFAULT 0 CHECK (agent_security_mode IN (0, 1)),
    created_at          INTEGER NOT NULL
);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,          -- stored lower-case
    name              TEXT NOT NULL DEFAULT '',
    password_hash     TEXT,                          -- NULL for auto-provisioned users
    auto_provisioned  INTEGER NOT NULL DEFAULT 0 CHECK (auto_provisioned IN (0, 1)),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships(user_id);

-- The cookie holds 32 random bytes; only their SHA-256 is kept.
CREATE TABLE browser_sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX browser_sessions_by_user ON browser_sessions(user_id);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions(expires_at);

-- Instance-wide key/value settings (the first-run setup code hash lives here).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Append-only. `repeat_count`/`last_at` let a flood of identical failures
-- collapse into one row; nothing else about a row can ever change.
CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    workspace_id TEXT REFERENCES workspaces(id),
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    actor_label  TEXT,
    kind         TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason       TEXT,
    client_ip    TEXT,
    user_agent   TEXT,
    dedup_key    TEXT,
    repeat_count INTEGER NOT NULL DEFAULT 1,
    last_at      INTEGER NOT NULL
);
CREATE INDEX audit_events_by_workspace ON audit_events(workspace_id, seq);
CREATE INDEX audit_events_by_dedup ON audit_events(dedup_key, seq) WHERE dedup_key IS NOT NULL;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_rewrite
BEFORE UPDATE OF seq, id, created_at, workspace_id, actor_kind, actor_id, actor_label, kind,
                 target_kind, target_id, outcome, reason, client_ip, user_agent, dedup_key
ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

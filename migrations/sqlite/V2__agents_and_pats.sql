-- Agents and personal access tokens.

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('created', 'active', 'disabled')),
    -- The member who created it (members manage only what they own).
    owner_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    enrolled_at   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE INDEX agents_by_workspace ON agents(workspace_id, id);

-- Keyed by the token's SHA-256: the bearer check is one primary-key lookup.
CREATE TABLE pats (
    token_hash      BLOB PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id         TEXT REFERENCES users(id) ON DELETE SET NULL,
    agent_id        TEXT REFERENCES agents(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    scope_type      TEXT NOT NULL CHECK (scope_type IN ('host', 'agent', 'service')),
    audience        TEXT NOT NULL CHECK (audience IN ('api', 'exchange', 'both')),
    token_hint      TEXT NOT NULL,
    daily_cap_cents INTEGER,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    last_used_at    INTEGER,
    CHECK ((scope_type = 'agent') = (agent_id IS NOT NULL)),
    CHECK ((scope_type = 'agent') = (daily_cap_cents IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX pats_by_workspace ON pats(workspace_id, id);
CREATE INDEX pats_by_agent ON pats(agent_id) WHERE agent_id IS NOT NULL;

-- Agent enrollment: one-time bootstrap secrets, the agent's own ES256 key,
-- the client-assertion replay table, opaque access tokens.

ALTER TABLE agents ADD COLUMN public_jwk TEXT;        -- {"kty":"EC","crv":"P-256","x","y"}
ALTER TABLE agents ADD COLUMN key_thumbprint TEXT;    -- RFC 7638

CREATE TABLE bootstrap_secrets (
    secret_hash  BLOB PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) WITHOUT ROWID;
CREATE INDEX bootstrap_secrets_by_agent ON bootstrap_secrets(agent_id);

-- A client assertion's jti may be used once; the insert is the check.
CREATE TABLE assertion_jtis (
    agent_id   TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, jti)
) WITHOUT ROWID;
CREATE INDEX assertion_jtis_by_expiry ON assertion_jtis(expires_at);

CREATE TABLE access_tokens (
    token_hash   BLOB PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_by_agent ON access_tokens(agent_id);

-- The OAuth 2.1 authorization server (PRODUCT.md §5.8): clients, the
-- grants hosts approve (each acting as an agent of the workspace), one-time
-- authorization codes and rotating refresh tokens. Secrets are stored as
-- SHA-256 only.

-- An agent approved as an OAuth client is marked so.
ALTER TABLE agents ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent' CHECK (kind IN ('agent', 'oauth_client'));

CREATE TABLE oauth_clients (
    id                         TEXT PRIMARY KEY,     -- the client_id
    source                     TEXT NOT NULL CHECK (source IN ('registered', 'dashboard')),
    client_name                TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,        -- JSON array, exact matches
    token_endpoint_auth_method TEXT NOT NULL CHECK (token_endpoint_auth_method IN ('none', 'private_key_jwt')),
    metadata                   TEXT NOT NULL,        -- every registered field, echoed
    created_at                 INTEGER NOT NULL,
    approved_at                INTEGER               -- first consent; unapproved registrations expire
);
CREATE INDEX oauth_clients_unapproved ON oauth_clients(created_at) WHERE approved_at IS NULL;

CREATE TABLE oauth_grants (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,                       -- a registered client, or a metadata document URL
    client_name  TEXT NOT NULL,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    resource_id  TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,                       -- space-separated
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,  -- who approved
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX oauth_grants_by_workspace ON oauth_grants(workspace_id, id);
CREATE INDEX oauth_grants_by_agent ON oauth_grants(agent_id);

CREATE TABLE oauth_codes (
    code_hash      BLOB PRIMARY KEY,
    grant_id       TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) WITHOUT ROWID;
CREATE INDEX oauth_codes_by_expiry ON oauth_codes(expires_at);

CREATE TABLE oauth_refresh_tokens (
    token_hash   BLOB PRIMARY KEY,
    grant_id     TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    rotated_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX oauth_refresh_tokens_by_grant ON oauth_refresh_tokens(grant_id);
CREATE INDEX oauth_refresh_tokens_by_expiry ON oauth_refresh_tokens(expires_at);

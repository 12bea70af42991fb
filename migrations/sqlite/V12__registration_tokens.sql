-- LATCHKEY_DCR=token: the initial access token (RFC 7591 §3) OAuth clients
-- present to register, minted in the dashboard and shown once. One per
-- workspace; minting another replaces it.
CREATE TABLE oauth_registration_tokens (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    created_by   TEXT REFERENCES users(id) ON DELETE SET NULL
);

-- Workspace certificates: RS256 public keys a host's backend signs JWTs
-- with. The private key is returned once and never stored.
CREATE TABLE certificates (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kid            TEXT NOT NULL UNIQUE,
    public_key_pem TEXT NOT NULL,
    n              TEXT NOT NULL,   -- base64url modulus
    e              TEXT NOT NULL,   -- base64url exponent
    status         TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'deleted')),
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);
CREATE INDEX certificates_by_workspace ON certificates(workspace_id, id);

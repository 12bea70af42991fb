-- Members (PRODUCT.md §5.10): an owner invites by email; the one-time link
-- (7 days) lets a new person set a password, or an existing one accept
-- after logging in. Only the link's SHA-256 is kept.
CREATE TABLE invitations (
    token_hash   BLOB PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    created_by   TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) WITHOUT ROWID;

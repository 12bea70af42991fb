-- A user auto-provisioned by a workspace's delegated certificate JWT is
-- that workspace's alone: the same email delegated by another workspace
-- (or held by a password account) is a different user, so no workspace can
-- learn what exists elsewhere or show another's names. Password users keep
-- one account per email instance-wide.
--
-- SQLite cannot drop the old UNIQUE(email), so the table is rebuilt (the
-- server runs migrations with foreign keys off, then checks them).
CREATE TABLE users_rebuilt (
    id                 TEXT PRIMARY KEY,
    email              TEXT NOT NULL,                 -- stored lower-case
    name               TEXT NOT NULL DEFAULT '',
    password_hash      TEXT,                          -- NULL for auto-provisioned users
    auto_provisioned   INTEGER NOT NULL DEFAULT 0 CHECK (auto_provisioned IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    -- The one workspace an auto-provisioned user belongs to.
    scope_workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE
);
INSERT INTO users_rebuilt (id, email, name, password_hash, auto_provisioned, created_at, updated_at, scope_workspace_id)
SELECT u.id, u.email, u.name, u.password_hash, u.auto_provisioned, u.created_at, u.updated_at,
       CASE WHEN u.auto_provisioned = 1 THEN
           (SELECT m.workspace_id FROM memberships m WHERE m.user_id = u.id ORDER BY m.created_at, m.workspace_id LIMIT 1)
       END
FROM users u;
-- Memberships an auto-provisioned user gained in other workspaces were
-- links between tenants: they end here.
DELETE FROM memberships
WHERE user_id IN (SELECT id FROM users_rebuilt WHERE scope_workspace_id IS NOT NULL)
  AND workspace_id <> (SELECT r.scope_workspace_id FROM users_rebuilt r WHERE r.id = memberships.user_id);
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE UNIQUE INDEX users_by_email ON users(email) WHERE scope_workspace_id IS NULL;
CREATE UNIQUE INDEX users_by_scoped_email ON users(scope_workspace_id, email) WHERE scope_workspace_id IS NOT NULL;

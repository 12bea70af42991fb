-- Resources: the host's own services Latchkey guards (forward-auth, RFC
-- 9728 metadata, OAuth resource indicators). The identifier is unique on the
-- instance, so no two workspaces share an audience.
CREATE TABLE resources (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    identifier   TEXT NOT NULL UNIQUE,  -- normalised absolute URL
    authority    TEXT NOT NULL,         -- lower-case host[:port], for matching X-Forwarded-Host
    scopes       TEXT NOT NULL,         -- JSON array of OAuth scopes
    rules        TEXT NOT NULL,         -- JSON array of rules
    version      INTEGER NOT NULL DEFAULT 1,  -- +1 on every change (process caches compare it)
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX resources_by_workspace ON resources(workspace_id, id);
CREATE INDEX resources_by_authority ON resources(authority);

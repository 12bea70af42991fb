-- An access token's first 12 characters after `lk_at_` are its id: a
-- time-ordered selector (milliseconds, then 29 random bits), not secret.
-- The row is found by that id and the token's SHA-256 is then compared in
-- constant time. Keyed this way, new tokens land together at the end of
-- the tree (one page per commit, whatever the table's size) instead of one
-- random page per token; the separate id index goes too.
--
-- Tokens issued before this change carry no selector and cannot be found
-- any more: they are dropped here. They live two hours at most, and an
-- agent gets a new one with its key (`POST /v1/agents/token`).
DROP TABLE access_tokens;
CREATE TABLE access_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   BLOB NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_by_agent ON access_tokens(agent_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens(expires_at);

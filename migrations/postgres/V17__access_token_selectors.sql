-- An access token's first 12 characters after `lk_at_` are its id: a
-- time-ordered selector, not secret. The row is found by that id and the
-- token's SHA-256 is then compared in constant time; new tokens land at the
-- end of the primary key's index instead of on a random page. Tokens
-- issued before this change carry no selector: they are dropped (they live
-- two hours at most; an agent gets a new one with its key).
DROP TABLE access_tokens;
CREATE TABLE access_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   BYTEA NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX access_tokens_by_agent ON access_tokens(agent_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens(expires_at);

-- Approvals (PRODUCT.md §5.9): a checkout over a limit with over_limit =
-- 'ask' (or above approval_above_usd) waits for a person. Approving creates
-- the checkout in the same transaction; an Idempotency-Key maps to one
-- approval.
CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    pat_id           TEXT NOT NULL REFERENCES pats(id) ON DELETE CASCADE,
    agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    session_id       TEXT,
    amount_cents     INTEGER NOT NULL CHECK (amount_cents > 0),
    description      TEXT NOT NULL,
    reference        TEXT,
    idempotency_key  TEXT,
    request_sha256   TEXT,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    requested_at     INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    decided_by       TEXT,
    checkout_id      TEXT,
    UNIQUE (pat_id, idempotency_key)
);
CREATE INDEX approvals_by_workspace ON approvals(workspace_id, status, id);

-- Expired rows are pruned in small batches by a periodic job; these let it
-- find them without scanning.
CREATE INDEX access_tokens_by_expiry ON access_tokens(expires_at);
CREATE INDEX runtime_sessions_by_expiry ON runtime_sessions(expires_at);
CREATE INDEX runtime_sessions_by_pat ON runtime_sessions(pat_id, ended_at, expires_at);
CREATE INDEX bootstrap_secrets_by_expiry ON bootstrap_secrets(expires_at);

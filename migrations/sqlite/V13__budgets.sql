-- Budgets beside the daily cap (PRODUCT.md §5.9): a per-checkout maximum,
-- weekly (UTC, from Monday) and monthly (UTC) caps, and the approval policy,
-- each optional. Weekly and monthly spend are running totals like the
-- daily one: a cap check is primary-key reads, never a scan.
CREATE TABLE pat_budgets (
    pat_id               TEXT PRIMARY KEY REFERENCES pats(id) ON DELETE CASCADE,
    max_checkout_cents   INTEGER,
    weekly_cap_cents     INTEGER,
    monthly_cap_cents    INTEGER,
    over_limit           TEXT NOT NULL DEFAULT 'refuse' CHECK (over_limit IN ('refuse', 'ask')),
    approval_above_cents INTEGER
) WITHOUT ROWID;

CREATE TABLE pat_window_spend (
    pat_id      TEXT NOT NULL REFERENCES pats(id) ON DELETE CASCADE,
    span        TEXT NOT NULL CHECK (span IN ('week', 'month')),
    period      INTEGER NOT NULL,   -- Monday-based UTC week number, or year * 12 + month - 1
    spent_cents INTEGER NOT NULL,
    PRIMARY KEY (pat_id, span, period)
) WITHOUT ROWID;

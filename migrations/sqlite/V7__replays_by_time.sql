-- A request signature covers its own timestamp, so a replay always comes
-- with the timestamp it was first seen with: keying the replay table by
-- (timestamp, signature) detects exactly the same replays as keying it by
-- the signature alone, but new rows land together at the end of the tree
-- (one page per commit instead of one random page per request, whatever
-- the table's size), and forgetting old ones is a range delete on the key
-- without a second index.
CREATE TABLE signature_replays_by_time (
    ts             INTEGER NOT NULL,   -- the signed X-Agent-Timestamp
    signature_hash BLOB NOT NULL,      -- SHA-256 of the signature bytes
    PRIMARY KEY (ts, signature_hash)
) WITHOUT ROWID;
-- Old rows were kept until ts + skew + 1; this recovers ts for the default
-- skew of 300 s. (With another LATCHKEY_SIGNATURE_SKEW_SECONDS, a signature
-- accepted in the last window before the upgrade is not recognised as a
-- replay after it; the window is minutes.)
INSERT INTO signature_replays_by_time (ts, signature_hash)
    SELECT expires_at - 301, signature_hash FROM signature_replays;
DROP TABLE signature_replays;
ALTER TABLE signature_replays_by_time RENAME TO signature_replays;

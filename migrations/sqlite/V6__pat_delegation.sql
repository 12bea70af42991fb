-- PATs minted by a delegated certificate JWT never carry instance-admin
-- rights, whoever they belong to: a workspace cannot mint its way there.
ALTER TABLE pats ADD COLUMN minted_by_delegation INTEGER NOT NULL DEFAULT 0 CHECK (minted_by_delegation IN (0, 1));

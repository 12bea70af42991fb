-- A certificate's name says which backend holds its private key.
ALTER TABLE certificates ADD COLUMN name TEXT NOT NULL DEFAULT '';

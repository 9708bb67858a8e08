CREATE TABLE signing_keys (
  generation INTEGER PRIMARY KEY, kid TEXT NOT NULL UNIQUE, public_raw BLOB NOT NULL,
  sealed BLOB NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE policy_documents (
  version INTEGER PRIMARY KEY, json TEXT NOT NULL, loaded_by TEXT NOT NULL,
  loaded_ms INTEGER NOT NULL);

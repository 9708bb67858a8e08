ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN email TEXT;
ALTER TABLE delegations ADD COLUMN decision_reason TEXT;
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY, key_id INTEGER NOT NULL, csrf TEXT NOT NULL,
  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);
CREATE INDEX audit_by_plan ON audit (plan_id, seq);

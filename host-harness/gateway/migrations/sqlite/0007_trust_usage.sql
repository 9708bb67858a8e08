CREATE TABLE trust_records (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, plan_id TEXT NOT NULL,
  record_json TEXT NOT NULL, signature TEXT NOT NULL, previous_plan_hash TEXT,
  plan_hash TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_at INTEGER,
  revoked_ms INTEGER);
CREATE INDEX trust_records_by_plan ON trust_records (plan_id);
CREATE TABLE token_usage (
  org INTEGER NOT NULL, product TEXT NOT NULL, session_id TEXT NOT NULL, model TEXT NOT NULL,
  usage_date TEXT NOT NULL, usage_hour INTEGER NOT NULL, device TEXT NOT NULL,
  device_name TEXT, repo TEXT, armored INTEGER,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
  revision INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  PRIMARY KEY (org, product, session_id, model, usage_date, usage_hour, device));
CREATE TABLE usage_streams (org INTEGER PRIMARY KEY, generation TEXT NOT NULL);
CREATE TABLE usage_runs (
  run_id TEXT PRIMARY KEY, org INTEGER NOT NULL, report TEXT NOT NULL,
  updated_ms INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
  label TEXT NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY, plan_hash TEXT NOT NULL, merkle_root TEXT NOT NULL,
  plan_json TEXT NOT NULL, step_count INTEGER NOT NULL, intent_reference TEXT NOT NULL,
  user_email TEXT, agent_id TEXT, expires_at INTEGER NOT NULL, status TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key_id INTEGER NOT NULL, route TEXT NOT NULL, idem TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY (key_id, route, idem));
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, route TEXT NOT NULL,
  outcome TEXT NOT NULL, user_email TEXT, agent_id TEXT, plan_id TEXT, step INTEGER,
  mcp TEXT, tool TEXT, reason TEXT, latency_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS delegations (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, tool TEXT NOT NULL, mcp TEXT, plan_id TEXT,
  requester_email TEXT, arguments TEXT NOT NULL, amount REAL, reason TEXT, approval TEXT,
  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, decided_by TEXT,
  decided_ms INTEGER, executed_ms INTEGER);

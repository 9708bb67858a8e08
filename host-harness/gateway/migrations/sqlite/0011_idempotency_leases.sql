ALTER TABLE idempotency ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idempotency ADD COLUMN heartbeat_ms INTEGER NOT NULL DEFAULT 0;
UPDATE idempotency SET heartbeat_ms = created_ms;

ALTER TABLE idempotency ADD COLUMN lease BIGINT NOT NULL DEFAULT 0;
ALTER TABLE idempotency ADD COLUMN heartbeat_ms BIGINT NOT NULL DEFAULT 0;
UPDATE idempotency SET heartbeat_ms = created_ms;

ALTER TABLE audit ADD COLUMN device_verdict TEXT;
ALTER TABLE audit ADD COLUMN device_latency_us INTEGER;
ALTER TABLE audit ADD COLUMN receipt TEXT;

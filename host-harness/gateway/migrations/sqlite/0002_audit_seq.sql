ALTER TABLE audit ADD COLUMN seq INTEGER;
UPDATE audit SET seq = id;
CREATE UNIQUE INDEX audit_seq ON audit (seq);

ALTER TABLE delegations ADD COLUMN step INTEGER;
ALTER TABLE delegations ADD COLUMN leaf_hash TEXT;
ALTER TABLE delegations ADD COLUMN args_hash TEXT;
DROP INDEX delegations_one_pending;
CREATE UNIQUE INDEX delegations_one_pending ON delegations
  (tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), COALESCE(step, -1), arguments)
  WHERE status = 'pending';
ALTER TABLE audit ADD COLUMN actor TEXT;

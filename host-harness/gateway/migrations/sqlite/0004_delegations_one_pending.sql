UPDATE delegations SET status = 'expired'
 WHERE status = 'pending' AND rowid NOT IN (
   SELECT MAX(rowid) FROM delegations WHERE status = 'pending'
    GROUP BY tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), arguments);
CREATE UNIQUE INDEX delegations_one_pending ON delegations
  (tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), arguments)
  WHERE status = 'pending';
CREATE INDEX delegations_by_tool_status ON delegations (tool, status);

UPDATE delegations d SET status = 'expired'
 WHERE d.status = 'pending' AND EXISTS (
   SELECT 1 FROM delegations o WHERE o.status = 'pending' AND o.tool = d.tool
    AND COALESCE(o.plan_id, '') = COALESCE(d.plan_id, '')
    AND COALESCE(o.requester_email, '') = COALESCE(d.requester_email, '')
    AND o.arguments = d.arguments AND (o.created_ms, o.id) > (d.created_ms, d.id));
CREATE UNIQUE INDEX delegations_one_pending ON delegations
  (tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), md5(arguments))
  WHERE status = 'pending';

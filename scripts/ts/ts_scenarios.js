// The unmodified official TypeScript SDK (@armoriq/sdk 0.2.6) against
// `armoriq serve`: driven by host-harness/cli/tests/interop_ts.rs.
//
// Env: ARMORIQ_API_KEY, BACKEND_ENDPOINT, PROXY_ENDPOINT, ARMORIQ_ENV=development,
//      USER_ID, AGENT_ID (set by the test).
// Prints one JSON line (the last line of stdout): what happened per scenario.
'use strict';

const { ArmorIQClient } = require('@armoriq/sdk');

const MCP = 'weather-mcp';
const BOSTON = { city: 'Boston', units: 'metric' };
const PLAN = {
  goal: 'Get the weather in Boston and email it to the team',
  steps: [
    { action: 'get_weather', mcp: MCP, params: BOSTON, description: 'Look up the current weather' },
    {
      action: 'send_email',
      mcp: MCP,
      params: { to: 'team@example.com', subject: 'Weather in Boston' },
      description: 'Mail the forecast',
    },
  ],
};

function textOf(result) {
  const blocks = (result && result.content) || [];
  return blocks.map((b) => b.text || '').join(' ');
}

async function outcome(fn) {
  try {
    const r = await fn();
    return { exception: null, status: r.status, text: textOf(r.result) };
  } catch (e) {
    return { exception: e.constructor.name, message: String(e.message) };
  }
}

async function main() {
  // The SDK logs to stdout; the result goes on the last line.
  const log = console.log;
  const out = {};
  const c = new ArmorIQClient({ useProduction: false });
  const cap = c.capturePlan('gpt-4o', 'weather in boston, mail the team', PLAN);
  const t = await c.getIntentToken(cap, undefined, 60);
  out.minted = { plan_hash: t.planHash, plan_id: t.planId, has_jwt: !!t.jwtToken,
                 step_proofs: (t.stepProofs || []).length };
  // The TypeScript SDK sends no JWT; take it out of the token to be sure.
  t.jwtToken = undefined;
  out.worked_example = await outcome(() =>
    c.invoke(MCP, 'get_weather', t, BOSTON, undefined, 'alice@example.com'));
  out.second_step = await outcome(() =>
    c.invoke(MCP, 'send_email', t, { to: 'team@example.com', subject: 'Weather in Boston' }));
  out.changed_param = await outcome(() =>
    c.invoke(MCP, 'get_weather', t, { city: 'Paris', units: 'metric' }));
  // A forged token: the signed expiry moved an hour on, signature kept.
  const forged = JSON.parse(JSON.stringify(t));
  forged.rawToken.token.expires_at += 3600;
  out.forged_token = await outcome(() => c.invoke(MCP, 'get_weather', forged, BOSTON));
  // A token signed by another key (its own public_key embedded).
  const foreign = JSON.parse(JSON.stringify(t));
  foreign.rawToken.token.public_key = 'ab'.repeat(32);
  out.foreign_key = await outcome(() => c.invoke(MCP, 'get_weather', foreign, BOSTON));
  // A proof header for another step than the one invoked (the SDK sends
  // the first step whose action matches: here step 1 stands in for step 0).
  const swapped = JSON.parse(JSON.stringify(t));
  swapped.stepProofs = [t.stepProofs[1], t.stepProofs[1]];
  out.swapped_proof = await outcome(() => c.invoke(MCP, 'get_weather', swapped, BOSTON));
  // A proof header whose siblings were altered.
  const bent = JSON.parse(JSON.stringify(t));
  bent.stepProofs[0].siblings = ['00'.repeat(32)];
  out.bent_proof = await outcome(() => c.invoke(MCP, 'get_weather', bent, BOSTON));
  // A CSRG token of another plan with this plan's steps.
  const other = await c.getIntentToken(
    c.capturePlan('gpt-4o', 'other', { goal: 'other', steps: [PLAN.steps[1]] }), undefined, 60);
  const mixed = JSON.parse(JSON.stringify(t));
  mixed.rawToken.token = other.rawToken.token;
  out.other_plans_token = await outcome(() => c.invoke(MCP, 'get_weather', mixed, BOSTON));
  // delegate(): the delegate completes its token with the plan it was given
  // (the SDK keeps only the CSRG token), then invokes as the delegate.
  const t2 = await c.getIntentToken(cap, undefined, 60);
  const d = await c.delegate(t2, '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
                             60, ['get_weather']);
  out.delegated = { id: d.delegationId, allowed: d.delegatedToken.rawToken.token.allowed_operations,
                    expires_at: d.delegatedToken.expiresAt, parent_expires_at: t2.expiresAt };
  const dt = d.delegatedToken;
  dt.rawToken.plan = PLAN;
  dt.stepProofs = t2.stepProofs;
  out.delegate_invoke = await outcome(() => c.invoke(MCP, 'get_weather', dt, BOSTON));
  out.delegate_outside = await outcome(() =>
    c.invoke(MCP, 'send_email', dt, { to: 'team@example.com', subject: 'Weather in Boston' }));
  log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ scenario_error: String(e && e.stack || e) }));
  process.exit(1);
});

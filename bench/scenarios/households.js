'use strict';

// Households created through the API (the scenarios' own households are inserted directly,
// which is faster): checks the route works and gives its latency.

const { Recorder } = require('../lib/stats');
const { send } = require('../lib/http');
const { token } = require('../lib/setup');

async function run(ctx) {
  const rec = new Recorder();
  const subs = Array.from({ length: ctx.httpHouseholds }, (_, i) => `bench-http-${ctx.runId}-${i}`);
  let next = 0;
  rec.start();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (!ctx.abort.aborted && next < subs.length) {
        const sub = subs[next++];
        await send(ctx.client, {
          method: 'POST',
          path: '/api/v1/me/household',
          authorization: `Bearer ${token(sub, ctx.jwtSecret)}`,
          body: {
            members: [
              {
                firstName: 'Ada',
                lastName: 'Bench',
                dateOfBirth: '1980-02-03',
                isHeadOfHousehold: true,
              },
            ],
          },
          idempotencyKey: true,
          recorder: rec,
        });
      }
    }),
  );
  rec.stop();
  const again = await send(ctx.client, {
    method: 'POST',
    path: '/api/v1/me/household',
    authorization: `Bearer ${token(subs[0], ctx.jwtSecret)}`,
    body: {
      members: [
        { firstName: 'Ada', lastName: 'Bench', dateOfBirth: '1980-02-03', isHeadOfHousehold: true },
      ],
    },
  });
  return {
    ...rec.summary(),
    checks: {
      secondCreate: again.status,
      secondCreateCode: again.code,
      ok: rec.ok === subs.length && again.status === 409,
    },
  };
}

module.exports = { run };

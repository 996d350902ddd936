import fc from 'fast-check';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';

// What every named property file shares: one app per file, fast-check's parameters, and the
// staff's HTTP calls (the participant's are test/support/calls.ts).
//
// Runs: each property has its own default, sized so that all of test/properties stays well
// within CI's time; FC_RUNS=<n> overrides every property's count.
// Reproduce a failure: FC_SEED=<seed> FC_PATH=<path> from fast-check's report, with
// FC_SHRINK=1 to let it shrink the counterexample (off by default: shrinking replays
// HTTP sequences and can take minutes). Run one property: npx jest test/properties -t 'Property 5'.

export function fcOptions(defaultRuns: number): fc.Parameters<unknown> {
  return {
    numRuns: process.env.FC_RUNS === undefined ? defaultRuns : Number(process.env.FC_RUNS),
    seed: process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED),
    path: process.env.FC_PATH,
    endOnFailure: process.env.FC_SHRINK === undefined,
  };
}

/** The real app on fresh databases, listening; small pools leave the shared server room. */
export async function startApp(env: Record<string, string> = {}): Promise<TestContext> {
  const ctx = await createTestApp({ PUBLIC_DB_POOL_SIZE: '4', PRIVATE_DB_POOL_SIZE: '4', ...env });
  await ctx.app.listen(0, '127.0.0.1');
  return ctx;
}

type Http = TestContext['http'];
const STAFF = ['staff'];

/** Staff calls about one event date. */
export function staff(http: Http) {
  const auth = bearer('staff-props', STAFF);
  return {
    waitlist: (dateId: number) =>
      request(http)
        .get(`/api/v1/admin/event-dates/${dateId}/waitlist`)
        .set('Authorization', auth)
        .expect(200),
    promote: (dateId: number) =>
      request(http)
        .post(`/api/v1/admin/event-dates/${dateId}/waitlist/promote`)
        .set('Authorization', auth)
        .expect(200),
    close: (dateId: number) =>
      request(http)
        .post(`/api/v1/admin/event-dates/${dateId}/waitlist/close`)
        .set('Authorization', auth)
        .expect(200),
    history: (registrationId: string) =>
      request(http)
        .get(`/api/v1/admin/registrations/${registrationId}/history`)
        .set('Authorization', auth)
        .expect(200),
  };
}

/** Throws, naming the property, when `problems` is not empty. */
export function holdsProperty(property: string, where: string, problems: string[]): void {
  if (problems.length > 0)
    throw new Error(`${property} broken at ${where}: ${problems.join('; ')}`);
}

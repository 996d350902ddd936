import fc from 'fast-check';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import type { TestHousehold } from '../support/households';

// What every named property file shares: one app per file, fast-check's parameters, and the
// participant's and staff's HTTP calls.
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

/** A participant's calls, as household `h`. */
export function participant(http: Http, h: Pick<TestHousehold, 'sub'>) {
  const auth = bearer(h.sub);
  return {
    register: (body: object) =>
      request(http).post('/api/v1/registrations').set('Authorization', auth).send(body),
    get: (id: string) =>
      request(http).get(`/api/v1/registrations/${id}`).set('Authorization', auth),
    change: (id: string, body: object) =>
      request(http).patch(`/api/v1/registrations/${id}`).set('Authorization', auth).send(body),
    cancel: (id: string) =>
      request(http).delete(`/api/v1/registrations/${id}`).set('Authorization', auth),
    list: (query: Record<string, string | number> = {}) =>
      request(http).get('/api/v1/registrations').query(query).set('Authorization', auth),
  };
}

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

import fc from 'fast-check';
import type { RowDataPacket } from 'mysql2/promise';
import request from 'supertest';
import { createTestApp, TestContext, token } from '../support/app';
import { counterDrift, createHousehold } from '../support/households';
import {
  createDate,
  createEvent,
  createSlotDate,
  dateKeyFromToday,
} from '../support/schedule-fixture';
import { snapshot } from './hostile.support';
import { ERROR_CODES } from '../../src/common/domain-error';

// Every route of the running app's OpenAPI document (so a new route is fuzzed without touching
// this file) gets generated path ids, query strings, bodies and headers: mostly plausible values
// (real ids of this run, real dates) so requests reach the services, mixed with hostile ones,
// and lists with a nested array or an item of the wrong kind among plausible items.
// Properties: no 5xx; every 4xx has the contract shape; a 400/401/403/404/413 changes no row;
// afterwards every counter matches the registrations and no household is registered twice for
// one date.

const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
// on a loaded machine the run stops after this long, having passed if nothing failed so far
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 40_000);
const MIN_RUNS = Math.min(RUNS, 300);
// every stable code of the contract (INTERNAL_ERROR, a 500, is not one of them)
const CODES = new Set<string>(ERROR_CODES);
// answers after which nothing may have changed (409/422 may leave an audit trail)
const NOTHING_CHANGES = new Set([400, 401, 403, 404, 413]);
const ERROR_KEYS = new Set(['statusCode', 'code', 'message', 'details', 'requestId']);

interface World {
  tokens: { participants: string[]; staff: string; admin: string; fresh: string[] };
  householdIds: string[];
  memberIds: string[];
  /** members of each participant's household, in token order; `current` is the caller's index */
  householdMembers: string[][];
  current: number;
  /** the slots of each date (empty: booked by date), and the date id last put in a request */
  slotsByDate: Record<number, number[]>;
  lastDateId?: number;
  registrationIds: string[];
  dateIds: number[];
  slotIds: number[];
  hourIds: number[];
}

/** A value decided when the request runs, so ids created earlier in the run can be used. */
type Gen = (w: World) => unknown;
const just =
  (value: unknown): Gen =>
  () =>
    value;
const pick = <T>(list: T[], n: number): T | undefined =>
  list.length === 0 ? undefined : list[n % list.length];

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  format?: string;
  nullable?: boolean;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  query: { name: string; schema: Schema }[];
  body?: Schema;
  staffOnly: boolean;
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  '0',
  '-1',
  '1.5',
  '1e3',
  '0x1f',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  '99999999999999999999999',
  '9223372036854775808',
  '18446744073709551616',
  "' OR 1=1 --",
  '"; DROP TABLE households; --',
  '<script>',
  '../../etc/passwd',
  '%00',
  '\u0000',
  '\uD800',
  '\uFEFF1',
  '١٢',
  '７',
  'ǅ',
  '🍞',
  'x'.repeat(300),
  '2026-02-30',
  '2026-13-01',
  '0000-00-00',
  '9999-12-31',
  '2026-12-01T25:00:00Z',
];

function hostile(): fc.Arbitrary<Gen> {
  return fc
    .oneof(
      fc.constantFrom<unknown>(...HOSTILE_STRINGS),
      fc.constantFrom<unknown>(
        null,
        true,
        false,
        0,
        -1,
        1.5,
        2 ** 31,
        2 ** 32,
        2 ** 53 - 1,
        2 ** 60,
        -(2 ** 63),
        1e308,
      ),
      fc.jsonValue({ maxDepth: 3 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer(),
    )
    .map(just);
}

const isoDate = (offset: number) => {
  const key = String(dateKeyFromToday(offset));
  return `${key.slice(0, 4)}-${key.slice(4, 6)}-${key.slice(6)}`;
};

/** Plausible values chosen by what a field is called. */
function plausible(
  name: string,
  schema: Schema,
  where: Where,
  path: string,
  hostility: number,
): fc.Arbitrary<Gen> {
  const n = fc.nat(1000);
  const asText = where !== 'body';
  const id = (list: (w: World) => (string | number)[]) =>
    fc.tuple(n, fc.boolean()).map(([i, str]): Gen => (w) => {
      const v = pick(list(w), i) ?? 1;
      return asText || str ? String(v) : Number(v);
    });
  const lower = name.toLowerCase();
  if (where === 'path') {
    if (path.includes('/registrations/')) return id((w) => w.registrationIds);
    if (path.includes('/members/')) return id((w) => w.memberIds);
    if (path.includes('/households/')) return id((w) => w.householdIds);
    if (path.includes('/event-dates/')) return id((w) => w.dateIds);
  }
  if (lower === 'memberids') {
    // mostly the caller's own members (so requests get past the ownership check), sometimes anyone's
    const own = id((w) => w.householdMembers[w.current] ?? w.memberIds);
    return fc
      .array(
        fc.oneof({ weight: 5, arbitrary: own }, { weight: 1, arbitrary: id((w) => w.memberIds) }),
        { minLength: 1, maxLength: 3 },
      )
      .map((gs): Gen => (w) => [...new Set(gs.map((g) => g(w)))]);
  }
  if (lower === 'householdids')
    return fc
      .array(
        id((w) => w.householdIds),
        { maxLength: 5 },
      )
      .map(
        (gs): Gen =>
          (w) =>
            gs.map((g) => g(w)),
      );
  if (lower === 'householdid') return id((w) => w.householdIds);
  // public ids are JSON numbers; a slot is mostly one of the date named just before it
  const text = (v: unknown) => (asText ? String(v) : v);
  if (lower.includes('dateid')) {
    return n.map((i): Gen => (w) => {
      w.lastDateId = pick(w.dateIds, i);
      return text(w.lastDateId);
    });
  }
  if (lower.includes('slotid')) {
    return fc.tuple(n, fc.nat(9)).map(([i, r]): Gen => (w) => {
      const own = w.lastDateId === undefined ? undefined : w.slotsByDate[w.lastDateId];
      if (r < 8 && own) return own.length === 0 ? undefined : text(pick(own, i));
      return text(pick(w.slotIds, i));
    });
  }
  if (lower === 'page' || lower === 'pagesize')
    return fc.integer({ min: 1, max: 250 }).map((v) => just(asText ? String(v) : v));
  if (lower === 'dateofbirth')
    return fc.integer({ min: -30000, max: 0 }).map((d) => just(isoDate(d)));
  if (lower === 'from' || lower === 'to')
    return fc.integer({ min: -5, max: 40 }).map((d) => just(isoDate(d)));
  if (lower === 'checkedinat')
    return fc
      .integer({ min: -86_400, max: 86_400 })
      .map((s) => just(new Date(Date.now() + s * 1000).toISOString()));
  if (lower === 'zip') return fc.constantFrom('43215', '99999', '4321').map(just);
  if (schema.enum) return fc.constantFrom(...schema.enum).map(just);
  const type = schema.type ?? 'string';
  if (type === 'boolean') return fc.boolean().map((v) => just(asText ? String(v) : v));
  if (type === 'number' || type === 'integer') {
    return fc.integer({ min: 0, max: 50 }).map((v) => just(asText ? String(v) : v));
  }
  if (type === 'array') {
    return fc
      .array(valueOf(name, schema.items ?? {}, where, path, hostility), { maxLength: 3 })
      .map(
        (gs): Gen =>
          (w) =>
            gs.map((g) => g(w)),
      );
  }
  if (type === 'object') return objectOf(schema, path, hostility);
  return fc.string({ minLength: 1, maxLength: 12 }).map(just);
}

let components: Record<string, Schema> = {};
const resolve = (schema: Schema): Schema =>
  schema.$ref ? resolve(components[schema.$ref.split('/').pop() as string] ?? {}) : schema;

type Where = 'path' | 'query' | 'body';

/** `hostility` is the weight (out of 10) of a hostile value instead of a plausible one. */
function valueOf(
  name: string,
  raw: Schema,
  where: Where,
  path: string,
  hostility: number,
): fc.Arbitrary<Gen> {
  const schema = resolve(raw);
  const sensible = plausible(name, schema, where, path, hostility);
  // a list gets a nested array or an item of the wrong kind even in plausible requests, since
  // only a request that is otherwise valid gets past the validators to show the hole
  const lists = schema.type === 'array' ? [{ weight: 2, arbitrary: wrongKindList(sensible) }] : [];
  if (hostility === 0) return fc.oneof({ weight: 10, arbitrary: sensible }, ...lists);
  return fc.oneof(
    { weight: 10 - hostility, arbitrary: sensible },
    { weight: hostility, arbitrary: hostile() },
    ...lists,
  );
}

/** A plausible list with one bad item put in: the list itself nested, an empty list, a scalar. */
function wrongKindList(list: fc.Arbitrary<Gen>): fc.Arbitrary<Gen> {
  const bad = fc.oneof(
    { weight: 3, arbitrary: list },
    {
      weight: 2,
      arbitrary: fc.constantFrom<unknown>([], [[]], 0, 7, 'x', '', null, true, {}).map(just),
    },
  );
  return fc.tuple(list, bad, fc.nat(3)).map(([items, item, at]): Gen => (w) => {
    const out = [...(items(w) as unknown[])];
    out.splice(Math.min(at, out.length), 0, item(w));
    return out;
  });
}

function objectOf(raw: Schema, path: string, hostility: number): fc.Arbitrary<Gen> {
  const schema = resolve(raw);
  const entries = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  return fc
    .tuple(
      fc.tuple(
        ...entries.map(([name, s]) =>
          fc.option(valueOf(name, s, 'body', path, hostility), {
            freq: required.has(name) || hostility === 0 ? 12 : 3,
          }),
        ),
      ),
      hostility === 0
        ? fc.constant(null)
        : fc.option(
            fc.tuple(
              fc.constantFrom('extra', 'id', 'status', 'isStaff', 'householdId', '__proto__'),
              hostile(),
            ),
            { freq: 3 },
          ),
    )
    .map(([values, extra]): Gen => (w) => {
      const out: Record<string, unknown> = {};
      entries.forEach(([name], i) => {
        const g = values[i];
        if (g !== null) out[name] = g(w);
      });
      if (extra) Object.defineProperty(out, extra[0], { value: extra[1](w), enumerable: true });
      return out;
    });
}

// encodeURIComponent throws on a lone surrogate (which the generators can produce): such an id
// is sent byte for byte instead, as the server would receive it from a careless client
function encodePathId(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return percent(text);
  }
}

/** Bytes as %XX, so invalid UTF-8 and reserved characters reach the server as sent. */
const percent = (text: string) =>
  Array.from(Buffer.from(text, 'utf8'), (b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const pathText = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(percent),
  fc
    .uint8Array({ minLength: 1, maxLength: 6 })
    .map((bytes) => Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
);

interface Fuzzed {
  op: Operation;
  pathIds: Gen[];
  rawPathId?: string;
  query: [string, Gen][];
  body?: Gen;
  rawBody?: string;
  caller: { kind: 'participant' | 'staff' | 'admin' | 'fresh' | 'none' | 'garbage'; n: number };
  idempotencyKey?: string;
  contentType?: string;
}

function requestArb(ops: Operation[]): fc.Arbitrary<Fuzzed> {
  // a third of the requests are hostile throughout; the rest are plausible, so they reach the services
  return fc.tuple(fc.constantFrom(...ops), fc.constantFrom(0, 0, 3)).chain(([op, hostility]) => {
    const hostileOnly = <T>(arb: fc.Arbitrary<T>, freq: number) =>
      hostility === 0
        ? fc.constant(undefined)
        : fc.option(arb, { freq }).map((v) => v ?? undefined);
    const pathParams = (op.path.match(/\{\w+\}/g) ?? []).map(() =>
      valueOf('id', { type: 'string' }, 'path', op.path, hostility),
    );
    const rightCaller = op.staffOnly
      ? fc.constantFrom<Fuzzed['caller']['kind']>('staff', 'admin')
      : fc.constant<Fuzzed['caller']['kind']>('participant');
    return fc.record({
      op: fc.constant(op),
      pathIds: fc.tuple(...pathParams).map((gs): Gen[] => gs),
      rawPathId: hostileOnly(pathText, 4),
      query: fc
        .tuple(
          ...op.query.map((q) =>
            fc.option(
              valueOf(q.name, q.schema, 'query', op.path, hostility).map(
                (g) => [q.name, g] as [string, Gen],
              ),
              { freq: 2 },
            ),
          ),
          hostility === 0
            ? fc.constant(null)
            : fc.option(
                fc.tuple(fc.constantFrom('page', 'x', 'status', 'page[0]', 'sort'), hostile()),
                { freq: 4 },
              ),
        )
        .map((pairs) => pairs.filter((p): p is [string, Gen] => p !== null)),
      body: op.body
        ? fc.option(objectOf(op.body, op.path, hostility), { freq: 12 }).map((v) => v ?? undefined)
        : fc.constant(undefined),
      rawBody: hostileOnly(
        fc.constantFrom(
          '[]',
          '[{}]',
          '"x"',
          '1',
          'null',
          '{',
          '{"a":1,}',
          `{"x":${'['.repeat(200)}${']'.repeat(200)}}`,
        ),
        5,
      ),
      caller: fc.record({
        kind:
          hostility === 0
            ? fc.oneof(
                { weight: 9, arbitrary: rightCaller },
                { weight: 1, arbitrary: fc.constantFrom('participant' as const, 'fresh' as const) },
              )
            : fc.constantFrom(
                'participant' as const,
                'staff' as const,
                'admin' as const,
                'fresh' as const,
                'none' as const,
                'garbage' as const,
              ),
        n: fc.nat(100),
      }),
      idempotencyKey:
        hostility === 0
          ? fc.option(fc.uuid(), { freq: 3 }).map((v) => v ?? undefined)
          : fc
              .option(
                fc.oneof(
                  fc.uuid(),
                  fc.stringMatching(/^[\x21-\x7e]{0,300}$/),
                  fc.constantFrom('k1', 'k2'),
                ),
                { freq: 2 },
              )
              .map((v) => v ?? undefined),
      contentType: hostileOnly(
        fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=utf-16',
          'application/xml',
        ),
        6,
      ),
    });
  });
}

function authorization(world: World, caller: Fuzzed['caller']): string | undefined {
  switch (caller.kind) {
    case 'participant':
      return `Bearer ${world.tokens.participants[world.current]}`;
    case 'staff':
      return `Bearer ${world.tokens.staff}`;
    case 'admin':
      return `Bearer ${world.tokens.admin}`;
    case 'fresh':
      return `Bearer ${pick(world.tokens.fresh, caller.n)}`;
    case 'garbage':
      return 'Bearer not.a.token';
    case 'none':
      return undefined;
  }
}

interface DocOperation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

function operations(doc: { paths: Record<string, Record<string, DocOperation>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (/^\/(health|metrics|docs)/.test(path)) continue;
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params = op.parameters ?? [];
      ops.push({
        method: method as Operation['method'],
        path,
        query: params
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema,
        staffOnly: path.startsWith('/api/v1/admin'),
      });
    }
  }
  return ops;
}

describe('fuzzing every route of the OpenAPI document', () => {
  let ctx: TestContext;
  let world: World;
  let ops: Operation[];

  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
    // one listening server for the whole run (supertest would otherwise open one per request)
    await ctx.app.listen(0, '127.0.0.1');
    const sql = ctx.dbs.publicSql;
    const slotDate = await createSlotDate(sql, { slots: 2, slotCapacity: 2 });
    const other = await createSlotDate(sql, { slots: 1, slotCapacity: 3 });
    const flatEvent = await createEvent(sql);
    const flatDate = await createDate(sql, flatEvent, { capacity: 3 });
    const pastDate = await createDate(sql, flatEvent, { dateKey: dateKeyFromToday(-3) });
    const households = [];
    for (let i = 0; i < 6; i++)
      households.push(await createHousehold(ctx.dbs.privateSql, `fuzz-${i}`, 1 + (i % 3)));
    world = {
      tokens: {
        participants: households.map((h) => token(h.sub)),
        staff: token('fuzz-staff', ['staff']),
        admin: token('fuzz-admin', ['admin']),
        fresh: ['fuzz-new-1', 'fuzz-new-2'].map((sub) => token(sub)),
      },
      householdIds: households.map((h) => h.id).concat(['999999']),
      memberIds: households.flatMap((h) => h.memberIds).concat(['999999']),
      householdMembers: households.map((h) => [...h.memberIds]),
      current: 0,
      registrationIds: ['999999'],
      dateIds: [slotDate.dateId, other.dateId, flatDate, pastDate, 999999],
      slotIds: [...slotDate.slotIds, ...other.slotIds, 999999],
      hourIds: [slotDate.hourId, other.hourId],
      slotsByDate: {
        [slotDate.dateId]: slotDate.slotIds,
        [other.dateId]: other.slotIds,
        [flatDate]: [],
        [pastDate]: [],
      },
    };
    const doc = await request(ctx.http).get('/docs-json').expect(200);
    components = doc.body.components?.schemas ?? {};
    ops = operations(doc.body);
  });
  afterAll(async () => ctx.close());

  it('finds the routes in the document', () => {
    expect(ops.length).toBeGreaterThanOrEqual(10);
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining([
        'post /api/v1/registrations',
        'patch /api/v1/registrations/{id}',
        'post /api/v1/me/household',
      ]),
    );
  });

  it('no generated request gets a 5xx, every 4xx has the contract shape, refusals change nothing', async () => {
    let before = await snapshot(ctx.dbs);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requestArb(ops), async (f) => {
        world.current = f.caller.n % world.householdMembers.length;
        let url = f.op.path;
        f.pathIds.forEach((g, i) => {
          const value =
            i === 0 && f.rawPathId !== undefined ? f.rawPathId : encodePathId(String(g(world)));
          url = url.replace(/\{\w+\}/, value);
        });
        const query = f.query.map(([k, g]) => {
          const v = g(world);
          const text = typeof v === 'string' ? v : JSON.stringify(v);
          return `${encodeURIComponent(k)}=${percent(text ?? '')}`;
        });
        if (query.length > 0) url += `?${query.join('&')}`;

        let req = request(ctx.http)[f.op.method](url);
        const auth = authorization(world, f.caller);
        if (auth) req = req.set('Authorization', auth);
        if (f.idempotencyKey !== undefined) req = req.set('Idempotency-Key', f.idempotencyKey);
        const sendsBody =
          f.op.method !== 'get' && (f.body !== undefined || f.rawBody !== undefined);
        if (sendsBody) {
          const text = f.rawBody ?? JSON.stringify(f.body?.(world));
          req = req
            .set('Content-Type', f.contentType ?? 'application/json')
            .serialize((raw: string) => raw)
            .send(text);
        }
        const res = await req;
        const label = `${f.op.method.toUpperCase()} ${url} ${auth ? f.caller.kind : 'anonymous'} -> ${res.status} ${res.text.slice(0, 200)}`;
        seen.set(
          `${f.op.method} ${f.op.path} ${res.status}`,
          (seen.get(`${f.op.method} ${f.op.path} ${res.status}`) ?? 0) + 1,
        );

        if (process.env.FUZZ_TRACE && label.includes(process.env.FUZZ_TRACE))
          console.log(label, f.rawBody ?? JSON.stringify(f.body?.(world)));
        if (res.status >= 500) throw new Error(`5xx: ${label}`);
        if (res.status >= 400) {
          if (
            res.body?.statusCode !== res.status ||
            !CODES.has(res.body?.code) ||
            typeof res.body?.message !== 'string' ||
            res.body.message === ''
          ) {
            throw new Error(`not the contract error shape: ${label}`);
          }
          const extra = Object.keys(res.body).filter((k) => !ERROR_KEYS.has(k));
          if (extra.length > 0)
            throw new Error(`unexpected error fields ${extra.join(',')}: ${label}`);
          if (res.status === 429 && !res.headers['retry-after'])
            throw new Error(`429 without Retry-After: ${label}`);
        }
        if (res.status === 201 || res.status === 200)
          learn(world, f.op, res.body, f.caller.kind === 'participant');

        const after = await snapshot(ctx.dbs);
        if (NOTHING_CHANGES.has(res.status)) {
          const changed = Object.keys(after).filter(
            (t) =>
              after[t] !== before[t] &&
              !(t === 'idempotency_keys' && f.idempotencyKey !== undefined),
          );
          if (changed.length > 0)
            throw new Error(`a ${res.status} changed ${changed.join(', ')}: ${label}`);
        }
        before = after;
      }),
      { numRuns: RUNS, endOnFailure: true, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );

    if (process.env.FUZZ_REPORT)
      console.log(
        [...seen.entries()]
          .sort()
          .map(([k, v]) => `${k}: ${v}`)
          .join('\n'),
      );
    const runs = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(runs).toBeGreaterThanOrEqual(MIN_RUNS);
    // the run must have reached the services, not only the validators
    const successes = [...seen.entries()].filter(([k]) => /\s2\d\d$/.test(k));
    expect(successes.some(([k]) => k.startsWith('post /api/v1/registrations '))).toBe(true);

    for (const dateId of world.dateIds.filter((d) => d !== 999999)) {
      expect({
        dateId,
        drift: await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, dateId),
      }).toEqual({ dateId, drift: [] });
    }
    const [twice] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      `SELECT household_id, event_date_id, COUNT(*) AS n FROM event_registrations
        WHERE status IN ('pending', 'confirmed', 'waitlisted', 'checked_in')
        GROUP BY household_id, event_date_id HAVING n > 1`,
    );
    expect(twice).toEqual([]);
    const [pending] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      "SELECT id FROM event_registrations WHERE status = 'pending'",
    );
    expect(pending).toEqual([]);
  }, 120_000);
});

interface Answer {
  id?: unknown;
  members?: { id?: unknown }[];
  results?: { registration?: { id?: unknown } | null }[];
}

/** Ids the app hands out become targets for later requests. */
function learn(world: World, op: Operation, body: Answer | null, byParticipant: boolean): void {
  const add = (list: string[], id: unknown) => {
    if ((typeof id === 'string' || typeof id === 'number') && !list.includes(String(id))) {
      list.push(String(id));
    }
  };
  if (body === null || typeof body !== 'object') return;
  if (op.path.includes('registrations')) {
    add(world.registrationIds, body.id);
    for (const r of body.results ?? []) add(world.registrationIds, r?.registration?.id);
  }
  if (op.path.includes('household')) {
    if (Array.isArray(body.members)) {
      add(world.householdIds, body.id);
      for (const m of body.members) add(world.memberIds, m?.id);
    } else {
      add(world.memberIds, body.id);
      if (byParticipant && op.method === 'post')
        add(world.householdMembers[world.current], body.id);
    }
  }
}

import { Logger } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { symbols } from 'pino';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { OutboxDispatcher } from '../../src/notifications/outbox.dispatcher';
import { RegistrationRepository } from '../../src/registrations/registration.repository';
import { createTestApp, TestContext, token } from '../support/app';
import { createHousehold } from '../support/households';
import { createSlotDate } from '../support/schedule-fixture';

const NAME = 'Wilhelmina';
const SURNAME = 'Quackenbush';
const BIRTH = '1979-04-13';
const NEEDS = 'insulin-fridge QX-7731';

describe('request logs', () => {
  let ctx: TestContext;
  const lines: string[] = [];

  beforeAll(async () => {
    // silent while booting; then everything pino would write to stdout is captured at info
    ctx = await createTestApp({ LOG_LEVEL: 'silent', NOTIFY_POLL_MS: '0' });
    const root = (
      PinoLogger as unknown as {
        root: { level: string } & Record<symbol, { write: (chunk: string) => boolean }>;
      }
    ).root;
    root[symbols.streamSym].write = (chunk: string) => {
      lines.push(...chunk.split('\n').filter(Boolean));
      return true;
    };
    root.level = 'info';
  });
  afterAll(async () => ctx.close());

  const entries = () =>
    lines.map(
      (l) =>
        JSON.parse(l) as { req?: { id?: string; method?: string }; res?: { statusCode?: number } },
    );

  it("carry the request's id, returned in X-Request-Id, and no names, birth dates or tokens", async () => {
    const jwt = token('log-test-account');
    const res = await request(ctx.http)
      .post('/api/v1/me/household?note=1')
      .set('Authorization', `Bearer ${jwt}`)
      .set('X-Request-Id', 'req-log-test-1')
      .send({
        members: [
          { firstName: NAME, lastName: SURNAME, dateOfBirth: BIRTH, isHeadOfHousehold: true },
        ],
      })
      .expect(201);
    expect(res.headers['x-request-id']).toBe('req-log-test-1');
    // the same personal data in a refused request
    await request(ctx.http)
      .post('/api/v1/me/household')
      .set('Authorization', `Bearer ${jwt}`)
      .set('X-Request-Id', 'req-log-test-2')
      .send({
        members: [{ firstName: NAME, lastName: SURNAME, dateOfBirth: BIRTH, nickname: NAME }],
      })
      .expect(400);

    const mine = entries().filter((e) => e.req?.id === 'req-log-test-1');
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(mine.some((e) => e.res?.statusCode === 201 && e.req?.method === 'POST')).toBe(true);
    expect(entries().some((e) => e.req?.id === 'req-log-test-2' && e.res?.statusCode === 400)).toBe(
      true,
    );
    const all = lines.join('\n');
    for (const secret of [NAME, SURNAME, BIRTH, jwt, jwt.split('.')[2], 'Bearer'])
      expect(all).not.toContain(secret);
  });

  it('never carries special requirements: not from a body, a refusal, or a failed query', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const auth = `Bearer ${token(h.sub)}`;
    const created = await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', auth)
      .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0], specialRequirements: NEEDS })
      .expect(201);
    const patch = (body: object) =>
      request(ctx.http)
        .patch(`/api/v1/registrations/${created.body.id}`)
        .set('Authorization', auth)
        .send(body);
    await patch({ specialRequirements: `${NEEDS} v2` }).expect(200);
    await patch({ specialRequirements: `${NEEDS}\n${'x'.repeat(500)}` }).expect(400);
    // an unexpected database failure is logged with its error, but not the query's values
    jest.spyOn(RegistrationRepository.prototype, 'setSpecialRequirements').mockRejectedValueOnce(
      new QueryFailedError(
        'UPDATE event_registrations SET special_requirements = ? WHERE id = ?',
        [`${NEEDS} v3`, created.body.id],
        Object.assign(new Error('Lock wait timeout exceeded'), {
          code: 'ER_SOMETHING',
          sql: `UPDATE event_registrations SET special_requirements = '${NEEDS} v3' WHERE id = 1`,
        }),
      ),
    );
    await patch({ specialRequirements: `${NEEDS} v3` }).expect(500);
    const all = lines.join('\n');
    expect(all).toContain('Lock wait timeout exceeded');
    expect(all).not.toContain('QX-7731');
  });

  it('makes up a request id when none (or a malformed one) is given', async () => {
    const res = await request(ctx.http)
      .get('/api/v1/event-dates/424242')
      .set('X-Request-Id', 'bad id with spaces')
      .expect(404);
    const id = String(res.headers['x-request-id']);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(entries().some((e) => e.req?.id === id && e.res?.statusCode === 404)).toBe(true);
  });

  it('logs an undelivered notification by ids and kind only when no webhook is configured', async () => {
    await ctx.dbs.privateSql.query(
      'INSERT INTO notification_outbox (household_id, registration_id, kind, payload) VALUES (?, ?, ?, ?)',
      [77, 88, 'confirmed', JSON.stringify({ firstName: NAME, dateOfBirth: BIRTH })],
    );
    const log = jest.spyOn(Logger.prototype, 'log');
    try {
      await ctx.app.get(OutboxDispatcher).dispatchDue();
      const calls = log.mock.calls.filter(
        ([fields]) => (fields as { registrationId?: string })?.registrationId === '88',
      );
      expect(calls).toHaveLength(1);
      expect(calls[0][0]).toEqual({
        kind: 'confirmed',
        householdId: '77',
        registrationId: '88',
        notificationId: expect.any(String),
      });
      expect(JSON.stringify(log.mock.calls)).not.toContain(NAME);
    } finally {
      log.mockRestore();
    }
  });
});

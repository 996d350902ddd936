import request from 'supertest';
import { bearer, TestContext } from './app';
import type { TestHousehold } from './households';

type Http = TestContext['http'];

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

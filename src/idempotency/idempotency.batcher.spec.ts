import fc from 'fast-check';
import { claimOutcomes, firstOfEachScope, lastOfEachScope } from './idempotency.batcher';
import type { KeyAnswer, KeyClaim } from './idempotency.repository';

const claim = (scope: string, requestHash = `h-${scope}`): KeyClaim => ({ scope, requestHash });
const answer = (scope: string, statusCode = 201, body = '{}'): KeyAnswer => ({
  scope,
  statusCode,
  body,
});

describe('idempotency batch helpers', () => {
  it('sends each scope once, with its first claim', () => {
    const claims = [claim('a', 'first'), claim('b'), claim('a', 'second')];
    expect(firstOfEachScope(claims)).toEqual([claim('a', 'first'), claim('b')]);
  });

  it("stores each scope's last answer, once", () => {
    const answers = [answer('a', 201), answer('b'), answer('a', 409)];
    expect(lastOfEachScope(answers)).toEqual([answer('a', 409), answer('b')]);
  });

  it('a claim wins only if the statement inserted its scope, and only the first of a scope', () => {
    const claims = [claim('a', 'first'), claim('b'), claim('a', 'second'), claim('c')];
    const values = claimOutcomes(claims, new Set(['a', 'c'])).map((o) => o.ok && o.value);
    expect(values).toEqual([true, false, false, true]);
  });

  it('property: every inserted scope has exactly one winner, the first of its claims; others lose', () => {
    const scopes = fc.constantFrom<string>('a', 'b', 'c', 'd');
    fc.assert(
      fc.property(fc.array(scopes, { maxLength: 20 }), fc.uniqueArray(scopes), (list, ins) => {
        const claims = list.map((s, i) => claim(s, `h${i}`));
        const inserted = new Set(ins.filter((s) => list.includes(s)));
        const won = claimOutcomes(claims, inserted).map((o) => o.ok && o.value);
        const winners = claims.filter((_, i) => won[i]);
        const firsts = claims.filter(
          (c, i) => inserted.has(c.scope) && list.indexOf(c.scope) === i,
        );
        expect(winners).toEqual(firsts);
      }),
    );
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import request from 'supertest';
import { createTestApp, TestContext } from '../support/app';
import { participant } from '../support/calls';
import { createHousehold } from '../support/households';
import { parseExposition, Sample } from '../support/prometheus-text';
import { createSlotDate } from '../support/schedule-fixture';

// The alerting rules (deploy/prometheus/alerts.yml) name series this service exports. Renaming
// a metric or a label, or dropping a label value the rules match on, must break a test here,
// not silently turn an alert into one that can never fire.

interface Rule {
  alert?: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const deploy = join(__dirname, '..', '..', 'deploy', 'prometheus');
const rules = (load(readFileSync(join(deploy, 'alerts.yml'), 'utf8')) as RuleFile).groups.flatMap(
  (g) => g.rules,
);
const ruleTests = load(readFileSync(join(deploy, 'alerts.test.yml'), 'utf8')) as RuleTests;

interface Dashboard {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
}
const dashboard = JSON.parse(
  readFileSync(join(deploy, '..', 'grafana', 'freshtrak-api.json'), 'utf8'),
) as Dashboard;

// series and labels Prometheus itself attaches to every target, not exported by the service
const FROM_PROMETHEUS = new Set(['up']);
const TARGET_LABELS = new Set(['job', 'instance']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on']);

interface Matcher {
  label: string;
  op: string;
  value: string;
}
interface Selector {
  metric: string;
  matchers: Matcher[];
}

/** The vector selectors of a PromQL expression: metric names and their label matchers. */
function selectors(expr: string): Selector[] {
  const stripped = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+\w+/g, ' ');
  const found: Selector[] = [];
  for (const m of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?/g)) {
    const [, metric, braces, call] = m;
    if (call || KEYWORDS.has(metric)) continue;
    const matchers = [...(braces ?? '').matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(
      ([, label, op, value]) => ({ label, op, value }),
    );
    found.push({ metric, matchers });
  }
  return found;
}

describe('alerting rules', () => {
  it('parse into named alerts, each with its promtool case firing and not firing', () => {
    const alerts = rules.map((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const cases = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, firing: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({
        alert,
        firing: true,
      });
      expect({ alert, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({
        alert,
        quiet: true,
      });
    }
  });

  it('ship a Grafana dashboard that loads, one Prometheus query or more per panel', () => {
    expect(dashboard.uid).toBe('freshtrak-api');
    expect(dashboard.panels.length).toBeGreaterThan(0);
    for (const panel of dashboard.panels) {
      expect({ panel: panel.title, datasource: panel.datasource.uid }).toEqual({
        panel: panel.title,
        datasource: '${DS_PROMETHEUS}',
      });
      expect(panel.targets.length).toBeGreaterThan(0);
    }
  });

  it('finds the selectors of an expression (the extractor the next test relies on)', () => {
    expect(
      selectors(
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{method="POST", route!~"/x/.*"}[5m]))) > 0.2 and on (job) b unless c{x="1"} offset 5m',
      ),
    ).toEqual([
      {
        metric: 'a_bucket',
        matchers: [
          { label: 'method', op: '=', value: 'POST' },
          { label: 'route', op: '!~', value: '/x/.*' },
        ],
      },
      { metric: 'b', matchers: [] },
      { metric: 'c', matchers: [{ label: 'x', op: '=', value: '1' }] },
    ]);
  });

  describe('against the running service', () => {
    let ctx: TestContext;
    let samples: Sample[];
    beforeAll(async () => {
      ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
      // one real registration, so the route the latency alert watches has its series
      const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 2 });
      const h = await createHousehold(ctx.dbs.privateSql);
      await participant(ctx.http, h)
        .register({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
        .expect(201);
      samples = parseExposition((await request(ctx.http).get('/metrics').expect(200)).text);
    });
    afterAll(async () => ctx.close());

    const used = [
      ...rules.flatMap((r) => selectors(r.expr).map((s) => ({ alert: r.alert, ...s }))),
      ...dashboard.panels.flatMap((p) =>
        p.targets.flatMap((t) =>
          selectors(t.expr).map((s) => ({ alert: `dashboard "${p.title}"`, ...s })),
        ),
      ),
    ];

    it('uses series at all', () => {
      expect(used.length).toBeGreaterThanOrEqual(rules.length);
    });

    it.each(used.filter((u) => !FROM_PROMETHEUS.has(u.metric)))(
      '$alert: $metric is exported with the labels it matches on',
      ({ metric, matchers }) => {
        const series = samples.filter((s) => s.name === metric);
        expect({ metric, exported: series.length > 0 }).toEqual({ metric, exported: true });
        for (const { label, op, value } of matchers.filter((m) => !TARGET_LABELS.has(m.label))) {
          // an equality must match a real label value; a regex (or a Grafana variable) must at
          // least name a real label
          const matches =
            op === '=' && !value.includes('$')
              ? series.some((s) => s.labels[label] === value)
              : series.some((s) => label in s.labels);
          expect({ metric, label, op, value, matches }).toEqual({
            metric,
            label,
            op,
            value,
            matches: true,
          });
        }
      },
    );

    it('exports the counters the rules take increase() of from zero, before anything happened', () => {
      const zero = (name: string, labels: Record<string, string>) =>
        samples.find(
          (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
        )?.value;
      expect(zero('counter_drift_found_total', { level: 'date' })).toBe(0);
      expect(zero('saga_compensations_total', { kind: 'cancel' })).toBe(0);
      expect(zero('saga_recovered_total', { outcome: 'released' })).toBe(0);
      expect(zero('notification_deliveries_total', { result: 'failed' })).toBe(0);
    });

    it('has a latency bucket at the 200 ms objective of the registration route', () => {
      expect(
        samples.find(
          (s) =>
            s.name === 'http_request_duration_seconds_bucket' &&
            s.labels.route === '/api/v1/registrations' &&
            s.labels.le === '0.2',
        ),
      ).toBeDefined();
    });
  });
});

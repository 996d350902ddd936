// Prints the dashboard's queries as a Prometheus rules file, so `promtool check rules` can
// parse them (npm run alerts:test). Grafana variables get a plain value first.
const dashboard = require('./freshtrak-api.json');

const lines = ['groups:', '  - name: freshtrak-api-dashboard', '    rules:'];
let n = 0;
for (const panel of dashboard.panels) {
  for (const target of panel.targets) {
    const expr = target.expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', 'freshtrak-api');
    lines.push(`      - record: dashboard:query_${++n}`, `        expr: ${JSON.stringify(expr)}`);
  }
}
console.log(lines.join('\n'));

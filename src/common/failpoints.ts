import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';

export class FailpointError extends Error {
  constructor(readonly point: string) {
    super(`failpoint ${point}`);
  }
}

// Test-only fault injection between saga steps. FAILPOINTS is a comma-separated list of
// `name[:error|crash][:probability]`; production config refuses it. `crash` kills the
// process on the spot (SIGKILL), as a deploy or an OOM kill would.
@Injectable()
export class Failpoints {
  private readonly points = new Map<string, { mode: 'error' | 'crash'; probability: number }>();

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.configure(config.failpoints);
  }

  configure(specs: string[]): void {
    this.points.clear();
    for (const spec of specs) {
      const [name, mode = 'error', probability = '1'] = spec.split(':');
      if (!name) continue;
      this.points.set(name, {
        mode: mode === 'crash' ? 'crash' : 'error',
        probability: Number(probability),
      });
    }
  }

  hit(name: string): void {
    if (this.points.size === 0) return;
    const point = this.points.get(name);
    if (!point || Math.random() >= point.probability) return;
    if (point.mode === 'crash') process.kill(process.pid, 'SIGKILL');
    throw new FailpointError(name);
  }
}

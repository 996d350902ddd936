import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { GroupCommitQueue, Settled } from '../common/group-commit.queue';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IdempotencyRepository, KeyAnswer, KeyClaim } from './idempotency.repository';

/** How long a key stays "in use" after its request stopped renewing it (died). */
const KEY_LEASE_SECONDS = 10;
/** Rows per statement at most (an answer's body is a few hundred bytes to a few kB). */
const MAX_ROWS = 500;

/*
 * The key writes of the requests running in this instance, shared: claims that arrive while a
 * claim statement is in flight are the next one (GroupCommitQueue, no timer), the same for
 * answers, and one timer renews every key held here in one statement. Each request still has
 * its own row and learns its own outcome from the database, exactly as if it ran alone: nothing
 * here guards idempotency. Another instance claiming the same key is refused by the primary
 * key; a process that dies stops renewing its keys, which then run out as before.
 */
@Injectable()
export class IdempotencyBatcher implements OnModuleDestroy {
  /** never longer than a saga's lease: a request does not outlive the saga it runs */
  readonly leaseSeconds: number;
  private readonly claims: GroupCommitQueue<KeyClaim, boolean>;
  private readonly answers: GroupCommitQueue<KeyAnswer, void>;
  /** keys held by running requests of this instance, with how many requests hold each */
  private readonly held = new Map<string, number>();
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly keys: IdempotencyRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.leaseSeconds = Math.min(KEY_LEASE_SECONDS, config.sagaGraceSeconds);
    this.claims = new GroupCommitQueue(async (_, claims) => {
      const inserted = await this.keys.claimMany(firstOfEachScope(claims), this.leaseSeconds);
      return claimOutcomes(claims, inserted);
    }, MAX_ROWS);
    this.answers = new GroupCommitQueue(async (_, answers) => {
      await this.keys.completeMany(lastOfEachScope(answers));
      return answers.map((): Settled<void> => ({ ok: true, value: undefined }));
    }, MAX_ROWS);
  }

  /** True when this request now owns the key (for a lease); false when a row already exists. */
  claim(scope: string, requestHash: string): Promise<boolean> {
    return this.claims.run('claim', { scope, requestHash });
  }

  /** Stores the request's answer on its key; resolves once the statement storing it committed. */
  complete(scope: string, statusCode: number, body: string): Promise<void> {
    return this.answers.run('complete', { scope, statusCode, body });
  }

  /**
   * The request owns the key: its lease is renewed, well before it runs out, until the returned
   * function is called (the request finished).
   */
  hold(scope: string): () => void {
    this.held.set(scope, (this.held.get(scope) ?? 0) + 1);
    this.renewal ??= setInterval(() => void this.renewAll(), (this.leaseSeconds * 1000) / 3);
    let holding = true;
    return () => {
      if (!holding) return;
      holding = false;
      const holders = (this.held.get(scope) ?? 1) - 1;
      if (holders > 0) this.held.set(scope, holders);
      else this.held.delete(scope);
      if (this.held.size === 0) this.stopRenewing();
    };
  }

  onModuleDestroy(): void {
    this.stopRenewing();
  }

  private async renewAll(): Promise<void> {
    const scopes = [...this.held.keys()];
    for (let at = 0; at < scopes.length; at += MAX_ROWS) {
      // a renewal that fails is tried again on the next tick, well inside the lease
      await this.keys
        .renewMany(scopes.slice(at, at + MAX_ROWS), this.leaseSeconds)
        .catch(() => undefined);
    }
  }

  private stopRenewing(): void {
    clearInterval(this.renewal);
    this.renewal = undefined;
  }
}

/** Each scope's first claim (two requests of one batch with the same key: the first wins). */
export function firstOfEachScope(claims: readonly KeyClaim[]): KeyClaim[] {
  const seen = new Set<string>();
  return claims.filter((c) => {
    if (seen.has(c.scope)) return false;
    seen.add(c.scope);
    return true;
  });
}

/** Each scope's last answer (the one a separate statement per answer would have left). */
export function lastOfEachScope(answers: readonly KeyAnswer[]): KeyAnswer[] {
  return [...new Map(answers.map((a) => [a.scope, a])).values()];
}

/**
 * Which claims of a batch won their key: the first claim of each scope the statement inserted.
 * A later claim of the same scope lost to it, as it would have one statement later.
 */
export function claimOutcomes(
  claims: readonly KeyClaim[],
  inserted: ReadonlySet<string>,
): Settled<boolean>[] {
  const won = new Set<string>();
  return claims.map((c) => {
    const wins = inserted.has(c.scope) && !won.has(c.scope);
    if (wins) won.add(c.scope);
    return { ok: true, value: wins };
  });
}

/** One try of an operation another request may be holding: it finished, or it found it busy. */
export type Attempt<T> = { kind: 'done'; value: T } | { kind: 'busy' };

/**
 * Runs `attempt` until it is not busy, pausing `pauseMs` between tries; after `retries` busy
 * retries, throws what `giveUp` makes. For the short holds of a saga on a registration.
 */
export async function retryWhileBusy<T>(
  attempt: () => Promise<Attempt<T>>,
  giveUp: () => Error | Promise<Error>,
  { retries = 20, pauseMs = 50 }: { retries?: number; pauseMs?: number } = {},
): Promise<T> {
  for (let tries = 0; ; tries++) {
    const result = await attempt();
    if (result.kind === 'done') return result.value;
    if (tries >= retries) throw await giveUp();
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

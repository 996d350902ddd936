/** What closing needs of a node-redis client (also of the socket.io adapter's pub/sub pair). */
export interface ClosableRedisClient {
  isOpen: boolean;
  close(): Promise<void>;
  destroy(): void;
}

/**
 * Closes a Redis client without hanging shutdown: it gets a second to finish its last commands,
 * then is dropped (an unreachable Redis never answers).
 */
export async function closeRedisClient(client: ClosableRedisClient): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 1000);
  });
  const closed = client.close().then(
    () => 'closed' as const,
    () => 'late' as const,
  );
  const outcome = await Promise.race([closed, late]);
  clearTimeout(timer);
  if (outcome === 'late' && client.isOpen) client.destroy();
}

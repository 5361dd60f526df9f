import { createClient } from 'redis';
import type { Logger } from '../logging/logger.js';

export type RedisClient = ReturnType<typeof createClient>;

/**
 * A connected Redis client for the channel's shared state (rate-limit budgets, replay entries).
 * A configured but unreachable Redis stops the start, like an unreachable database; after a
 * successful start an outage is logged, commands fail at once (no offline queue holding requests)
 * and the client reconnects.
 */
export async function connectRedis(url: string, logger: Logger, purpose: string): Promise<RedisClient> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      client.destroy();
      reject(new Error(`REDIS_URL: cannot connect to Redis (${err.message})`));
    };
    client.once('error', onError);
    client.connect().then(
      () => {
        client.off('error', onError);
        resolve();
      },
      (err: unknown) => onError(err instanceof Error ? err : new Error(String(err))),
    );
  });
  client.on('error', (err: Error) => logger.warn(`${purpose} store error`, { error: err.message }));
  return client;
}

export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.isOpen) await client.close();
}

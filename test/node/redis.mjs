// Whether the tests that need a real redis-server run: they skip without one, unless
// REQUIRE_REDIS=1 (CI), where a missing redis-server fails them instead.
import { existsSync } from 'node:fs';

export const REDIS_SERVER = process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server';

/** The `skip` option of a suite that needs redis-server. */
export function skipWithoutRedis() {
  if (existsSync(REDIS_SERVER) || process.env.REQUIRE_REDIS === '1') return false;
  return `no ${REDIS_SERVER} (set REQUIRE_REDIS=1 to fail instead)`;
}

/**
 * The public types by the path modules not moved yet import them from
 * (src/transport, test/memory-transport.ts): remove once they import from
 * api/options.ts, api/events.ts or src/options.ts. Not exported by index.ts.
 */
export type { ConnectionState } from './events.js';
export type { PeerServerOptions, TokenSource } from './options.js';
export type { ResolvedDeliveryOptions, ResolvedLimitOptions } from '../options.js';

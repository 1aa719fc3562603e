/** The default bounds on what peers may cost a plugin (see `LimitOptions`). */
import type { LimitOptions, ResolvedLimitOptions } from '../api/types.js';

export const DEFAULT_LIMITS: ResolvedLimitOptions = {
  maxLiveInvitationsPerInviter: 5,
  maxStoredInvitations: 500,
  maxStoredBytes: 4 * 1024 * 1024,
  maxUnknownCancelsPerPeer: 20,
  maxMessagesPerSecond: 50,
  maxPendingInboundConnections: 16,
  violationsBeforeCooldown: 10,
  cooldownMs: 60_000,
};

export function resolveLimits(limits: LimitOptions = {}): ResolvedLimitOptions {
  return { ...DEFAULT_LIMITS, ...withoutUndefined(limits) };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

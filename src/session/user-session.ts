/**
 * What the facade (plugin.ts) holds for one connected user: a `Session` in a
 * tab of its own, or a `TabSession` (src/tabs) that shares one with the
 * user's other tabs.
 */
import type { AddInvitationResult, CallActionResult, CancelInvitationResult, JoinInvitationResult, PluginStats, RespondInvitationResult, SendInvitationResult } from '../api/calls.js';
import type { User } from '../api/calls.js';
import type { PushServerLink } from '../push/enable-push.js';

export interface SessionCalls {
  sendInvitation(params: unknown): Promise<SendInvitationResult>;
  cancelInvitation(params: unknown): Promise<CancelInvitationResult>;
  respond(params: unknown, answer: 'accept' | 'refuse'): Promise<RespondInvitationResult>;
  addInvitation(params: unknown): Promise<AddInvitationResult>;
  joinInvitation(params: unknown): Promise<JoinInvitationResult>;
  quitInvitation(params: unknown): Promise<CallActionResult>;
  endInvitation(params: unknown): Promise<CallActionResult>;
}

/** What `stats()` says while no session runs: every field README lists, at zero. */
export function idleStats(): Required<PluginStats> {
  return { connectAttempts: 0, openConnections: 0, openingConnections: 0, refusedOffers: 0, bannedPeers: 0, invitations: 0, pendingDeliveries: 0 };
}

export interface UserSession {
  readonly user: User;
  /** The app's calls, once `start` resolved, until `close`. */
  readonly calls: SessionCalls | undefined;
  start(): Promise<void>;
  stats(): PluginStats;
  /**
   * The companion server's Web Push link of this tab's connection: undefined before `start`
   * resolved or over a network with none, `'other-tab'` when another tab of the user holds the connection.
   */
  pushLink(): PushServerLink | 'other-tab' | undefined;
  /** Idempotent. */
  close(): Promise<void>;
}

/** What the plugin's methods take and resolve with. */
import type { InvitationError } from '../errors.js';
import type { TransportStats } from '../transport/transport.js';

export interface User {
  id: string;
  name: string;
}

export interface ConnectUserParams {
  id: string;
  name: string;
}

/** The seed's notification settings for one invitation. */
export interface NotificationConfig {
  notifyWhenAppIsInTheBackgroundOrQuit: boolean;
  resourceID?: string;
  title?: string;
  message?: string;
}

export interface SendInvitationParams {
  inviterName: string;
  invitees: readonly string[];
  /** Seconds, finite, > 0, at most 600; fractions allowed. */
  timeout: number;
  /** Call type, an integer (for example 0 voice, 1 video). */
  type: number;
  /** Extended data for the invitees, at most 8 KiB of UTF-8. */
  data: string;
  notificationConfig?: NotificationConfig;
}

/** Why an invitee was left out of an invitation. */
export type InviteeErrorReason = 'invalid-id' | 'self';

export interface CancelInvitationParams {
  invitationID: string;
  /** Default: every invitee that has not answered yet. */
  invitees?: readonly string[];
  data?: string;
}

export interface RespondInvitationParams {
  invitationID: string;
  data?: string;
}

export interface SendInvitationResult {
  /** `''` when nothing was sent. */
  invitationID: string;
  errorInvitees: Record<string, InviteeErrorReason>;
  error?: InvitationError;
}

export interface CancelInvitationResult {
  invitationID: string;
  /** Invitees that could not be canceled: already answered, timed out, canceled, or never invited. */
  errorInvitees: string[];
  error?: InvitationError;
}

export interface RespondInvitationResult {
  invitationID: string;
  error?: InvitationError;
}

export interface PluginStats extends TransportStats {
  /** Invitations held (sent or received, until their deadline plus `retentionMs`). */
  invitations: number;
  /** Messages owed to peers and not yet acknowledged. */
  pendingDeliveries: number;
}

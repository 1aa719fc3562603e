/**
 * Every failure the plugin reports, expected or not, is an `InvitationError`
 * whose `code` says what went wrong; `message` is for people, `code` for code.
 */
export type InvitationErrorCode =
  /** A parameter is missing, of the wrong type or out of range. */
  | 'INVALID_ARGUMENT'
  /** `sendInvitation` was left with no invitee once empty entries were dropped. */
  | 'EMPTY_INVITEES'
  /** `data` (or the whole encoded message) is over its size limit. */
  | 'DATA_TOO_LARGE'
  /** The call needs `connectUser` to have resolved first. */
  | 'NOT_CONNECTED'
  /** `connectUser` was called while another user is connected. */
  | 'ALREADY_CONNECTED'
  /** The PeerServer refused the id: another tab or device holds it. */
  | 'USER_ID_TAKEN'
  /** The PeerServer could not be reached, or dropped us during `connectUser`. */
  | 'SERVER_UNREACHABLE'
  /** The PeerServer refused our token for this id (missing, wrong, expired, or another user's), or the `token` function failed. */
  | 'UNAUTHORIZED'
  /** No invitation with that id is known here. */
  | 'NOT_FOUND'
  /** The invitation was already accepted or refused. */
  | 'ALREADY_RESPONDED'
  /** The invitation's deadline has passed. */
  | 'EXPIRED'
  /** The inviter canceled the invitation. */
  | 'CANCELED'
  /** The plugin was disposed. */
  | 'DISPOSED'
  /** A peer sent a malformed, oversized, unknown or unauthorized message; it was dropped. */
  | 'PROTOCOL_VIOLATION'
  /** IndexedDB failed (unavailable, quota exceeded); the plugin goes on in memory. */
  | 'STORAGE_FAILED'
  /** A peer could not be reached; delivery is retried until the deadline. */
  | 'PEER_UNREACHABLE'
  /** A callback the app gave (such as `notify`) threw; the plugin went on without it. */
  | 'APP_CALLBACK_FAILED'
  /** `connectUser`: this browser has no WebRTC data channels (RTCPeerConnection), so nothing can be sent or received. */
  | 'WEBRTC_UNSUPPORTED'
  /** Advanced mode: the call was ended (or everyone left it), so it can be neither joined nor added to. */
  | 'CALL_ENDED'
  /** Advanced mode: this user is not in the call (`accepted`), which adding, quitting and ending need. */
  | 'NOT_IN_CALL'
  /** Advanced mode: this plugin holds as many live calls as it may (64). */
  | 'CALL_FULL';

export class InvitationError extends Error {
  override readonly name = 'InvitationError';
  readonly code: InvitationErrorCode;

  constructor(code: InvitationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isInvitationError(value: unknown): value is InvitationError {
  return value instanceof InvitationError;
}

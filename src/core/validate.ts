/**
 * Checks of what the app passes to the public methods. Pure: each returns the
 * cleaned value or an `InvitationError` to resolve with, never throws.
 */
import { InvitationError } from '../errors.js';
import { MAX_DATA_BYTES, MAX_TEXT_BYTES, MAX_TIMEOUT_SECONDS, isRecord, isValidPeerId, utf8Length } from './protocol.js';
import type { InviteeErrorReason, NotificationConfig, SendInvitationParams } from '../api/calls.js';
import { MAX_CALL_DATA_BYTES } from './roster.js';

/** More invitees than this in one invitation is refused: each costs a connection. */
export const MAX_INVITEES = 100;
export const MAX_USER_ID_LENGTH = 64;

export interface CheckedInvitation {
  inviterName: string;
  invitees: string[];
  errorInvitees: Record<string, InviteeErrorReason>;
  timeoutMs: number;
  type: number;
  data: string;
  notificationConfig: NotificationConfig | undefined;
}

export function checkUserId(id: unknown): InvitationError | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_USER_ID_LENGTH || !isValidPeerId(id)) {
    return invalid(`user id must be 1 to ${MAX_USER_ID_LENGTH} letters or digits, with single '-', '_' or spaces between them; got ${show(id)}`);
  }
  return undefined;
}

export function checkText(name: string, value: unknown, maxBytes = MAX_TEXT_BYTES): InvitationError | undefined {
  if (typeof value !== 'string') return invalid(`${name} must be a string; got ${show(value)}`);
  if (utf8Length(value) > maxBytes) {
    return new InvitationError(maxBytes === MAX_DATA_BYTES ? 'DATA_TOO_LARGE' : 'INVALID_ARGUMENT', `${name} is over ${maxBytes} bytes of UTF-8`);
  }
  return undefined;
}

export function checkInvitationID(value: unknown): InvitationError | undefined {
  return typeof value === 'string' && value.length > 0 ? undefined : invalid(`invitationID must be a non-empty string; got ${show(value)}`);
}

export interface CheckedCancel {
  invitationID: string;
  /** Undefined: every invitee that has not answered. */
  invitees: string[] | undefined;
  data: string;
}

/** `cancelInvitation`'s parameters, whatever shape they arrive in. */
export function checkCancel(params: unknown): CheckedCancel | InvitationError {
  if (!isRecord(params)) return invalid('cancelInvitation needs a parameters object');
  const { invitationID, invitees, data = '' } = params;
  const error = checkInvitationID(invitationID) ?? checkText('data', data, MAX_DATA_BYTES);
  if (error) return error;
  if (invitees !== undefined && !(Array.isArray(invitees) && invitees.every((id) => typeof id === 'string'))) {
    return invalid(`invitees must be an array of user ids; got ${show(invitees)}`);
  }
  return { invitationID: invitationID as string, invitees: invitees === undefined ? undefined : [...(invitees as string[])], data: data as string };
}

export interface CheckedAnswer {
  invitationID: string;
  data: string;
}

/** `acceptInvitation`'s and `refuseInvitation`'s parameters, whatever shape they arrive in. */
export function checkAnswer(params: unknown): CheckedAnswer | InvitationError {
  if (!isRecord(params)) return invalid('the answer needs a parameters object');
  const { invitationID, data = '' } = params;
  const error = checkInvitationID(invitationID) ?? checkText('data', data, MAX_DATA_BYTES);
  if (error) return error;
  return { invitationID: invitationID as string, data: data as string };
}

/** The invitation id to echo in a failed result: the one given, if it is a string. */
export function echoedInvitationID(params: unknown): string {
  const invitationID = isRecord(params) ? params['invitationID'] : undefined;
  return typeof invitationID === 'string' ? invitationID : '';
}

/** The invitee list to echo in a failed cancel: the strings given, if a list was. */
export function echoedInvitees(params: unknown): string[] {
  const invitees = isRecord(params) ? params['invitees'] : undefined;
  return Array.isArray(invitees) ? invitees.filter((id): id is string => typeof id === 'string') : [];
}

/** The seed's rules: empty entries dropped, duplicates collapsed, self and invalid ids set aside. */
export function checkInvitation(params: unknown, selfId: string): CheckedInvitation | InvitationError {
  if (!isRecord(params)) return invalid('sendInvitation needs a parameters object');
  const { inviterName, invitees, timeout, type, data = '', notificationConfig } = params as Partial<SendInvitationParams>;
  const textError = checkText('inviterName', inviterName) ?? checkText('data', data, MAX_DATA_BYTES);
  if (textError) return textError;
  if (!Array.isArray(invitees)) return invalid(`invitees must be an array of user ids; got ${show(invitees)}`);
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_SECONDS) {
    return invalid(`timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}; got ${show(timeout)}`);
  }
  if (!Number.isSafeInteger(type)) return invalid(`type must be an integer; got ${show(type)}`);
  const notificationError = checkNotificationConfig(notificationConfig);
  if (notificationError) return notificationError;
  const { advancedMode } = params;
  if (advancedMode !== undefined && typeof advancedMode !== 'boolean') return invalid(`advancedMode must be a boolean; got ${show(advancedMode)}`);

  const unique = new Set<string>();
  const errorInvitees: Record<string, InviteeErrorReason> = {};
  for (const invitee of invitees as unknown[]) {
    if (invitee === '' || invitee === null || invitee === undefined) continue;
    if (typeof invitee !== 'string') return invalid(`invitees must be strings; got ${show(invitee)}`);
    if (invitee === selfId) errorInvitees[invitee] = 'self';
    else if (invitee.length > MAX_USER_ID_LENGTH || !isValidPeerId(invitee)) errorInvitees[invitee] = 'invalid-id';
    else unique.add(invitee);
  }
  if (unique.size > MAX_INVITEES) return invalid(`at most ${MAX_INVITEES} invitees per invitation; got ${unique.size}`);
  return {
    inviterName: inviterName as string,
    invitees: [...unique],
    errorInvitees,
    // A tiny positive timeout must not round to 0 ms.
    timeoutMs: Math.max(1, Math.round(timeout * 1000)),
    type: type as number,
    data,
    notificationConfig,
  };
}

function checkNotificationConfig(config: unknown): InvitationError | undefined {
  if (config === undefined) return undefined;
  if (typeof config !== 'object' || config === null) return invalid('notificationConfig must be an object');
  const { notifyWhenAppIsInTheBackgroundOrQuit, resourceID, title, message } = config as Record<string, unknown>;
  if (typeof notifyWhenAppIsInTheBackgroundOrQuit !== 'boolean') return invalid('notificationConfig.notifyWhenAppIsInTheBackgroundOrQuit must be a boolean');
  for (const [name, value] of Object.entries({ resourceID, title, message })) {
    if (value !== undefined) {
      const error = checkText(`notificationConfig.${name}`, value);
      if (error) return error;
    }
  }
  return undefined;
}

function invalid(message: string): InvitationError {
  return new InvitationError('INVALID_ARGUMENT', message);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}

export interface CheckedAdd {
  invitationID: string;
  invitees: string[];
  errorInvitees: Record<string, InviteeErrorReason>;
  /** Undefined: the call's first timeout. */
  timeoutMs: number | undefined;
  data: string;
}

/** `addInvitation`'s parameters: the invitees as `sendInvitation` takes them. */
export function checkAdd(params: unknown, selfId: string): CheckedAdd | InvitationError {
  if (!isRecord(params)) return invalid('addInvitation needs a parameters object');
  const { invitationID, invitees, timeout, data = '' } = params;
  const error = checkInvitationID(invitationID) ?? checkText('data', data, MAX_DATA_BYTES);
  if (error) return error;
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_SECONDS)) {
    return invalid(`timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}; got ${show(timeout)}`);
  }
  const checked = checkInvitation({ inviterName: '', invitees, timeout: timeout ?? 1, type: 0, data }, selfId);
  if (checked instanceof InvitationError) return checked;
  return {
    invitationID: invitationID as string,
    invitees: checked.invitees,
    errorInvitees: checked.errorInvitees,
    timeoutMs: timeout === undefined ? undefined : checked.timeoutMs,
    data: data as string,
  };
}

/** `joinInvitation`'s, `quitInvitation`'s and `endInvitation`'s parameters; their data goes in a row, of at most 2 KiB. */
export function checkCallAction(params: unknown, method: string): CheckedAnswer | InvitationError {
  if (!isRecord(params)) return invalid(`${method} needs a parameters object`);
  const { invitationID, data = '' } = params;
  const error = checkInvitationID(invitationID) ?? checkCallData(data);
  if (error) return error;
  return { invitationID: invitationID as string, data: data as string };
}

/** Data that goes in a call's row (a join, quit, end, or an answer to a call's ring). */
export function checkCallData(data: unknown): InvitationError | undefined {
  const error = checkText('data', data, MAX_DATA_BYTES);
  if (error) return error;
  return utf8Length(data as string) > MAX_CALL_DATA_BYTES ? new InvitationError('DATA_TOO_LARGE', `data of a call's row is over ${MAX_CALL_DATA_BYTES} bytes of UTF-8`) : undefined;
}

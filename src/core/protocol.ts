/**
 * The wire protocol: message shapes, limits, and the one decoder every incoming
 * frame goes through. Pure: no network, no storage, no clock. See PROTOCOL.md.
 */
import type { RefusalReason } from '../api/types.js';
import { MAX_CALL_DATA_BYTES, MAX_CALL_MEMBERS, RING_STATES, SELF_STATES, type RowState, type WireRow } from './roster.js';

export const PROTOCOL_VERSION = 2;
/**
 * Protocol v3 keeps every basic-mode frame at `v: 2`, so v2 peers read them; an invite says
 * `speaks: 3`, and only a peer that said so is sent what v2 does not know (`refused: 'overloaded'`).
 */
export const SPEAKS_VERSION = 3;

/**
 * Every invitation id is `<inviter id>:<suffix>`. User ids cannot contain ':', so the
 * prefix names the inviter, and receivers take an invite or cancel only from the peer
 * it names: nobody else can block, shadow or cancel an invitation, and two inviters
 * whose suffixes collide never meet.
 */
export const INVITATION_ID_SEPARATOR = ':';

export function invitationIDOf(inviter: string, suffix: string): string {
  return `${inviter}${INVITATION_ID_SEPARATOR}${suffix}`;
}

/** Whether `invitationID` was made by `peer` (see INVITATION_ID_SEPARATOR). */
export function isInvitationOf(invitationID: string, peer: string): boolean {
  return invitationID.startsWith(`${peer}${INVITATION_ID_SEPARATOR}`);
}

/** PeerJS's JSON channel refuses frames of 16,300 bytes or more; stay clear of it. */
export const MAX_MESSAGE_BYTES = 16_000;
/** The `data` field of any message, in UTF-8 bytes. */
export const MAX_DATA_BYTES = 8 * 1024;
/** Names, notification titles and similar short strings, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 1024;
export const MAX_INVITATION_ID_LENGTH = 128;
/** `timeout` of an invitation, in seconds. */
export const MAX_TIMEOUT_SECONDS = 600;

export type OutgoingKind = 'invite' | 'cancel' | 'accept' | 'refuse';

export interface NotificationPayload {
  resourceID?: string;
  title?: string;
  message?: string;
}

export interface InviteMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'invite';
  invitationID: string;
  inviterName: string;
  type: number;
  data: string;
  /** Milliseconds left before the invitation expires, measured by the sender as it sends. */
  remainingMs: number;
  notification?: NotificationPayload;
  /** v3: the highest protocol version the inviter reads. Absent from v2 inviters. */
  speaks?: number;
  /** v3, advanced mode: this ring brings the invitee into the call `id`, whose members (who spoke in it) are `members`. */
  call?: RingCall;
}

export interface RingCall {
  id: string;
  members: string[];
}

/**
 * v3, advanced mode: what the sender is authority for in call `invitationID` (its own row, the rows
 * of members it rang, its end), and the members it knows. Sent only to members that spoke in the call.
 */
export interface CallMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'call';
  invitationID: string;
  /** The sender's version of what it wrote; the ack names it. */
  seq: number;
  rows: WireRow[];
  members: string[];
  ended?: { data: string; rev: number };
}

export interface CancelMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'cancel';
  invitationID: string;
  data: string;
  remainingMs: number;
}

export interface AnswerMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'accept' | 'refuse';
  invitationID: string;
  data: string;
  remainingMs: number;
}

/** Why an inviter did not count an answer: it had timed out, or canceled that invitee, first. */
export type AnswerRejection = 'expired' | 'canceled';

/**
 * Why an invitee turned an invite away unseen: `busy`, it is over one of its limits
 * (too many live invitations from this inviter, or stored in total); `blocked`, its
 * app's `shouldRing` said no.
 */
export type InviteRefusal = RefusalReason;
const INVITE_REFUSALS: Record<InviteRefusal, true> = { busy: true, blocked: true, overloaded: true };

/** v3: `overloaded` for an invite over a limit; `busy`, as v2 said, to an inviter that did not say it speaks v3. */
export function limitRefusal(speaks: number | undefined): InviteRefusal {
  return (speaks ?? 2) >= 3 ? 'overloaded' : 'busy';
}

/** What Delivery carries and acks name: the legs' messages and, v3, call messages. */
export type DeliveredKind = OutgoingKind | 'call';

export interface AckMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'ack';
  of: DeliveredKind;
  invitationID: string;
  /** Only on the ack of a call message: the `seq` it acknowledges. */
  seq?: number;
  /** Only on the ack of an accept or refuse that arrived too late to count. */
  rejected?: AnswerRejection;
  /** Only on the ack of an invite that was turned away without ringing. */
  refused?: InviteRefusal;
}

/** Sent when a plugin (re)connects, so that the peer flushes what it holds for us. */
export interface HelloMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'hello';
}

/** Keep-alive on an open connection; handled by the transport, never by the plugin. */
export interface PingMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'ping';
}

export type Message = InviteMessage | CancelMessage | AnswerMessage | AckMessage | HelloMessage | PingMessage | CallMessage;

export const PING: PingMessage = { v: PROTOCOL_VERSION, kind: 'ping' };
export const HELLO: HelloMessage = { v: PROTOCOL_VERSION, kind: 'hello' };

/** What the transport hands on for a frame that is not JSON at all. */
export const NOT_JSON: unique symbol = Symbol('not JSON');

const textEncoder = new TextEncoder();
/** Reused by `utf8Length`: counting the bytes of every text of every leg change must not allocate them. */
let scratch = new Uint8Array(1024);

/** UTF-8 bytes of `text` (a lone surrogate counts as U+FFFD, as `TextEncoder` writes it). */
export function utf8Length(text: string): number {
  if (text.length < 32) {
    let bytes = text.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) continue;
      if (code < 0x800) bytes += 1;
      else if (code >= 0xd800 && code < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        bytes += 2; // a pair: 4 bytes for 2 code units
        i++;
      } else bytes += 2;
    }
    return bytes;
  }
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return textEncoder.encodeInto(text, scratch).written;
}

/** Size of a message as PeerJS's JSON channel will send it. */
export function encodedSize(message: Message): number {
  return utf8Length(JSON.stringify(message));
}

/** PeerJS's own rule for peer ids; an invitee id that breaks it can never connect. */
export function isValidPeerId(id: string): boolean {
  return /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/.test(id);
}

export function isPing(frame: unknown): boolean {
  return isRecord(frame) && frame['kind'] === 'ping' && frame['v'] === PROTOCOL_VERSION;
}

export type DecodeResult = { ok: true; message: Message } | { ok: false; reason: string };

/**
 * Checks an incoming frame field by field. Anything that is not exactly a
 * message of this version comes back as `{ ok: false, reason }`: the caller
 * drops it and reports it, and never has to catch.
 */
export function decodeMessage(frame: unknown): DecodeResult {
  if (frame === NOT_JSON) return fail('not JSON');
  if (!isRecord(frame)) return fail(`not an object (${describe(frame)})`);
  if (frame['v'] !== PROTOCOL_VERSION) return fail(`unsupported protocol version ${describe(frame['v'])}`);
  const kind = frame['kind'];
  switch (kind) {
    case 'ping':
      return { ok: true, message: PING };
    case 'hello':
      return { ok: true, message: HELLO };
    case 'ack': {
      const of = frame['of'];
      if (of !== 'invite' && of !== 'cancel' && of !== 'accept' && of !== 'refuse' && of !== 'call') return fail(`ack of unknown kind ${describe(of)}`);
      const invitationID = validInvitationID(frame['invitationID']);
      if (invitationID === undefined) return fail('ack without a valid invitationID');
      const message: AckMessage = { v: PROTOCOL_VERSION, kind, of, invitationID };
      if (of === 'call') {
        if (!isCount(frame['seq'])) return fail('ack of a call without a valid seq');
        message.seq = frame['seq'];
      }
      const { rejected, refused } = frame;
      if (rejected !== undefined) {
        if ((rejected !== 'expired' && rejected !== 'canceled') || (of !== 'accept' && of !== 'refuse')) return fail(`ack with an invalid rejected ${describe(rejected)}`);
        message.rejected = rejected;
      }
      if (refused !== undefined) {
        if (typeof refused !== 'string' || !Object.hasOwn(INVITE_REFUSALS, refused) || of !== 'invite') return fail(`ack with an invalid refused ${describe(refused)}`);
        message.refused = refused as InviteRefusal;
      }
      return { ok: true, message };
    }
    case 'invite': {
      const common = checkCommon(frame);
      if (typeof common === 'string') return fail(common);
      const inviterName = frame['inviterName'];
      if (!isBoundedText(inviterName, MAX_TEXT_BYTES)) return fail('invite with an invalid inviterName');
      const type = frame['type'];
      if (!Number.isSafeInteger(type)) return fail('invite with a non-integer type');
      const notification = checkNotification(frame['notification']);
      if (notification === null) return fail('invite with an invalid notification');
      const message: InviteMessage = { v: PROTOCOL_VERSION, kind, ...common, inviterName, type: type as number };
      if (notification) message.notification = notification;
      if (Number.isSafeInteger(frame['speaks']) && (frame['speaks'] as number) >= 2) message.speaks = frame['speaks'] as number;
      if (frame['call'] !== undefined) {
        const call = frame['call'];
        if (!isRecord(call)) return fail('invite with an invalid call');
        const id = validInvitationID(call['id']);
        const members = checkMembers(call['members']);
        if (id === undefined || members === undefined) return fail('invite with an invalid call');
        message.call = { id, members };
      }
      return { ok: true, message };
    }
    case 'cancel':
    case 'accept':
    case 'refuse': {
      const common = checkCommon(frame);
      if (typeof common === 'string') return fail(common);
      return { ok: true, message: { v: PROTOCOL_VERSION, kind, ...common } };
    }
    case 'call':
      return decodeCall(frame);
    default:
      return fail(`unknown message kind ${describe(kind)}`);
  }
}

const ROW_STATES: ReadonlySet<unknown> = new Set<RowState>([...SELF_STATES, ...RING_STATES]);

function decodeCall(frame: Record<string, unknown>): DecodeResult {
  const invitationID = validInvitationID(frame['invitationID']);
  if (invitationID === undefined) return fail('call without a valid invitationID');
  if (!isCount(frame['seq'])) return fail('call without a valid seq');
  const members = checkMembers(frame['members']);
  if (members === undefined) return fail(`call with members that are not at most ${MAX_CALL_MEMBERS} user ids`);
  const rows = frame['rows'];
  if (!Array.isArray(rows) || rows.length > MAX_CALL_MEMBERS) return fail(`call with rows that are not a list of at most ${MAX_CALL_MEMBERS}`);
  const checked: WireRow[] = [];
  const seen = new Set<string>();
  for (const row of rows as unknown[]) {
    if (!isRecord(row)) return fail('call with a row that is not an object');
    const { id, state, data, rev } = row;
    if (typeof id !== 'string' || !isValidPeerId(id) || id.length > MAX_PEER_ID_LENGTH || seen.has(id)) return fail('call with a row of an invalid or repeated id');
    if (!ROW_STATES.has(state)) return fail(`call with a row of unknown state ${describe(state)}`);
    if (!isBoundedText(data, MAX_CALL_DATA_BYTES)) return fail(`call with row data over ${MAX_CALL_DATA_BYTES} bytes`);
    if (!isCount(rev) || rev === 0) return fail('call with a row of an invalid rev');
    seen.add(id);
    checked.push({ id, state: state as RowState, data, rev });
  }
  const message: CallMessage = { v: PROTOCOL_VERSION, kind: 'call', invitationID, seq: frame['seq'], rows: checked, members };
  const ended = frame['ended'];
  if (ended !== undefined) {
    if (!isRecord(ended) || !isBoundedText(ended['data'], MAX_CALL_DATA_BYTES) || !isCount(ended['rev']) || ended['rev'] === 0) return fail('call with an invalid ended');
    message.ended = { data: ended['data'], rev: ended['rev'] };
  }
  return { ok: true, message };
}

/** PeerJS ids as the plugin's users have them (MAX_USER_ID_LENGTH in validate.ts). */
const MAX_PEER_ID_LENGTH = 64;

function checkMembers(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_CALL_MEMBERS) return undefined;
  const members = new Set<string>();
  for (const id of value as unknown[]) {
    if (typeof id !== 'string' || id.length > MAX_PEER_ID_LENGTH || !isValidPeerId(id)) return undefined;
    members.add(id);
  }
  return [...members];
}

/** A revision or sequence number: a non-negative safe integer. */
function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function checkCommon(frame: Record<string, unknown>): { invitationID: string; data: string; remainingMs: number } | string {
  const invitationID = validInvitationID(frame['invitationID']);
  if (invitationID === undefined) return `${String(frame['kind'])} without a valid invitationID`;
  const data = frame['data'];
  if (!isBoundedText(data, MAX_DATA_BYTES)) return `${String(frame['kind'])} with data that is not a string of at most ${MAX_DATA_BYTES} bytes`;
  const remainingMs = frame['remainingMs'];
  if (typeof remainingMs !== 'number' || !Number.isFinite(remainingMs) || remainingMs > MAX_TIMEOUT_SECONDS * 1000) {
    return `${String(frame['kind'])} with an invalid remainingMs`;
  }
  return { invitationID, data, remainingMs };
}

function validInvitationID(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_INVITATION_ID_LENGTH ? value : undefined;
}

/** `undefined` when absent, `null` when present but malformed. */
function checkNotification(value: unknown): NotificationPayload | undefined | null {
  if (value === undefined) return undefined;
  if (!isRecord(value)) return null;
  const payload: NotificationPayload = {};
  for (const field of ['resourceID', 'title', 'message'] as const) {
    const text = value[field];
    if (text === undefined) continue;
    if (!isBoundedText(text, MAX_TEXT_BYTES)) return null;
    payload[field] = text;
  }
  return payload;
}

function isBoundedText(value: unknown, maxBytes: number): value is string {
  // One UTF-16 unit is at most 3 UTF-8 bytes: skip encoding strings that are obviously short enough.
  return typeof value === 'string' && (value.length * 3 <= maxBytes || utf8Length(value) <= maxBytes);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function fail(reason: string): DecodeResult {
  return { ok: false, reason };
}

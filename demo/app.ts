/**
 * The demo: one SignalingPlugin per tab. Every observable goes to the event log;
 * the incoming and outgoing lists are drawn from the events alone, which the
 * plugin re-emits after a reload, so a reload loses nothing. An accepted
 * invitation then becomes a media call between the two tabs (call.ts).
 */
import {
  createSignalingPlugin,
  type ConnectionState,
  type InvitationError,
  type InvitationReceivedEvent,
  type SignalingPlugin,
} from 'peer-invitation';
import { MediaCalls } from './call.js';
import { CallPanel } from './call-panel.js';
import { loadServerConfig, rememberUserInAddress, userFromAddress } from './config.js';
import { byId, callTypeLabel, parseIds, shortId } from './dom.js';
import { EventLog } from './event-log.js';
import { IncomingView, type Answer } from './incoming.js';
import { OutgoingView, STATE_HELP } from './outgoing.js';
import { PushSwitch } from './push.js';
import { SentInvitations } from './sent-invitations.js';
import { GroupCalls } from './group-calls.js';

const connectForm = byId<HTMLFormElement>('connect-form');
const userIdInput = byId<HTMLInputElement>('user-id');
const userNameInput = byId<HTMLInputElement>('user-name');
const connectButton = byId<HTMLButtonElement>('connect');
const disconnectButton = byId<HTMLButtonElement>('disconnect');
const connectStatus = byId('connect-status');
const stateBadge = byId('connection-state');
const inviteForm = byId<HTMLFormElement>('invite-form');
const inviteFields = byId<HTMLFieldSetElement>('invite-fields');
const inviteStatus = byId('invite-status');

const log = new EventLog(byId<HTMLOListElement>('log'));
const sent = new SentInvitations();
const server = await loadServerConfig();
if (server.token) {
  byId('token-note').textContent =
    'The PeerServer requires a token for each id. This demo gets one from /demo/token, a stand-in for your login: it signs any id typed here, where a real backend signs only the logged-in user.';
}
// With `npm start`, each registration fetches a token from the demo's stand-in backend first.
// Invitations ask to notify (notificationConfig below): a hidden tab shows a notification, a closed one gets a push.
const plugin: SignalingPlugin = createSignalingPlugin({ peer: server.peer, token: server.token, notifyWhenAppIsInTheBackgroundOrQuit: true });
const callPanel = new CallPanel({
  panel: byId('call-panel'),
  status: byId('call-status'),
  remoteVideo: byId<HTMLVideoElement>('remote-video'),
  remoteCaption: byId('remote-caption'),
  localVideo: byId<HTMLVideoElement>('local-video'),
});
const calls = new MediaCalls(callPanel, log, server.peer, server.token);
const incoming = new IncomingView(byId<HTMLUListElement>('incoming'), byId('incoming-status'), answer);
const outgoing = new OutgoingView(byId<HTMLUListElement>('outgoing'), (id) => sent.get(id), cancel);
const pushSwitch = new PushSwitch(plugin, byId<HTMLInputElement>('push-switch'), byId('push-status'), server.peer, server.push);
const groupCalls = new GroupCalls(plugin, log);

const describeUser = (user: { id: string; name: string }) => (user.name && user.name !== user.id ? `${user.name} (${user.id})` : user.id);
const describeError = (error: InvitationError) => `${error.code}: ${error.message}`;

plugin.connectionState$.subscribe((state) => {
  showConnectionState(state);
  log.add('connectionState$', state, state === 'connected' ? 'good' : state === 'reconnecting' ? 'bad' : 'info');
});
plugin.invitationReceived$.subscribe((event) => {
  const data = event.data ? `, data "${event.data}"` : '';
  log.add('invitationReceived$', `${describeUser(event.inviter)} invites you to a ${callTypeLabel(event.type)} call, ${Math.round(event.timeout)} s to answer${data} (invitation ${shortId(event.invitationID)})`);
  incoming.show(event);
  if (event.acceptedFromNotification) {
    // Accept on this invitation's push notification opened this page: the user already chose.
    log.add('acceptedFromNotification', `accepting ${shortId(event.invitationID)}, as chosen on its notification`, 'good');
    void answer(event, 'accept');
  }
});
plugin.invitationCanceled$.subscribe(({ invitationID, inviter, data }) => {
  log.add('invitationCanceled$', `${describeUser(inviter)} canceled invitation ${shortId(invitationID)}${data ? `, data "${data}"` : ''}`);
  incoming.close(invitationID, `${describeUser(inviter)} canceled the call.`);
});
plugin.invitationTimeout$.subscribe(({ invitationID, inviter }) => {
  log.add('invitationTimeout$', `invitation ${shortId(invitationID)} from ${describeUser(inviter)} timed out unanswered`);
  incoming.close(invitationID, `You missed a call from ${describeUser(inviter)}.`);
});
plugin.invitationAnsweredElsewhere$.subscribe(({ invitationID, answer }) => {
  log.add('invitationAnsweredElsewhere$', `invitation ${shortId(invitationID)} was ${answer === 'accept' ? 'accepted' : 'refused'} in another tab`);
  incoming.close(invitationID, `Answered in another tab (${answer === 'accept' ? 'accepted' : 'refused'}).`);
});
plugin.invitationAccepted$.subscribe(({ invitationID, invitee, data }) => {
  log.add('invitationAccepted$', `${invitee} accepted invitation ${shortId(invitationID)}${data ? `, data "${data}"` : ''}`, 'good');
  // The type is in what the page stored on sending; if that is lost, a voice call asks for the least.
  calls.callInvitee(invitee, sent.get(invitationID)?.type ?? 0);
});
plugin.invitationRefused$.subscribe(({ invitationID, invitee, data }) => {
  log.add('invitationRefused$', `${invitee} refused invitation ${shortId(invitationID)}${data ? `, data "${data}"` : ''}`, 'bad');
});
plugin.invitationResponseTimeout$.subscribe(({ invitationID, invitees }) => {
  log.add('invitationResponseTimeout$', `${invitees.join(', ')} did not answer invitation ${shortId(invitationID)} in time`, 'bad');
});
plugin.inviteeStateChanged$.subscribe(({ invitationID, invitee, state }) => {
  log.add('inviteeStateChanged$', `${invitee} → ${state}: ${STATE_HELP[state]} (invitation ${shortId(invitationID)})`);
  outgoing.update(invitationID, invitee, state);
});
plugin.errors$.subscribe((error) => log.add('errors$', describeError(error), 'bad'));

function showConnectionState(state: ConnectionState): void {
  const user = plugin.user;
  stateBadge.dataset.state = state;
  stateBadge.textContent = user && state !== 'disconnected' ? `${state} as ${describeUser(user)}` : state;
}

function setConnected(connected: boolean): void {
  userIdInput.readOnly = userNameInput.readOnly = connected;
  connectButton.disabled = connected;
  disconnectButton.disabled = !connected;
  inviteFields.disabled = !connected;
  if (connected) void pushSwitch.connected();
  else pushSwitch.disconnected();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Other tabs of this browser share the connection (see README, "Several tabs"); after a
 * reload of the only tab the PeerServer may still hold this id for a moment (longer if
 * it crashed: its alive_timeout), so USER_ID_TAKEN is retried for a while.
 */
const ID_TAKEN_RETRY_MS = 20_000;

async function connect(user: { id: string; name: string }): Promise<void> {
  connectButton.disabled = true;
  connectStatus.textContent = '';
  incoming.clear();
  outgoing.clear();
  groupCalls.clear();
  sent.open(user.id);
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      await plugin.connectUser(user);
      break;
    } catch (error) {
      const failure = error as InvitationError;
      const wait = Math.min(4000, 500 * 2 ** attempt);
      if (failure.code === 'USER_ID_TAKEN' && Date.now() - started + wait < ID_TAKEN_RETRY_MS) {
        connectStatus.textContent = `"${user.id}" is still registered on the server (another browser, or this tab before a reload); retrying…`;
        await sleep(wait);
        continue;
      }
      log.add('connectUser', describeError(failure), 'bad');
      connectStatus.textContent = `Could not connect: ${failure.message}`;
      connectButton.disabled = false;
      return;
    }
  }
  connectStatus.textContent = '';
  rememberUserInAddress(user);
  setConnected(true);
  log.add('connectUser', `connected as ${describeUser(user)}`, 'good');
  calls.open(user.id);
}

async function disconnect(): Promise<void> {
  calls.close();
  await plugin.disconnectUser();
  rememberUserInAddress(undefined);
  incoming.clear();
  outgoing.clear();
  setConnected(false);
  log.add('disconnectUser', 'disconnected; unanswered invitations stay stored for this id');
}

async function invite(): Promise<void> {
  const user = plugin.user;
  if (!user) return;
  const invitees = parseIds(byId<HTMLInputElement>('invitees').value);
  const timeout = Number(byId<HTMLInputElement>('timeout').value);
  const type = Number(byId<HTMLSelectElement>('call-type').value);
  const data = byId<HTMLInputElement>('data').value;
  // Not `data`: a notification's text goes through the push service (encrypted) and shows on a locked screen.
  const notificationConfig = { notifyWhenAppIsInTheBackgroundOrQuit: true, title: 'peer-invitation demo', message: `${callTypeLabel(type)} call` };
  const result = await plugin.sendInvitation({ inviterName: user.name, invitees, timeout, type, data, notificationConfig });
  const skipped = Object.entries(result.errorInvitees).map(([id, reason]) => `${id} (${reason})`);
  const skippedText = skipped.length > 0 ? ` Skipped: ${skipped.join(', ')}.` : '';
  if (result.error) {
    inviteStatus.textContent = `Not sent: ${result.error.message}.${skippedText}`;
    log.add('sendInvitation', describeError(result.error), 'bad');
    return;
  }
  const details = { type, deadline: Date.now() + timeout * 1000, data };
  sent.save(result.invitationID, details);
  outgoing.describe(result.invitationID, details);
  inviteStatus.textContent = `Invitation ${shortId(result.invitationID)} sent.${skippedText}`;
  log.add('sendInvitation', `invitation ${shortId(result.invitationID)} to ${invitees.join(', ')}${skippedText}`);
}

async function cancel(invitationID: string, invitees?: string[]): Promise<void> {
  const result = await plugin.cancelInvitation(invitees ? { invitationID, invitees } : { invitationID });
  const failed = result.errorInvitees.length > 0 ? `; could not cancel ${result.errorInvitees.join(', ')}` : '';
  const what = invitees ? invitees.join(', ') : 'all pending invitees';
  if (result.error) log.add('cancelInvitation', `${what} of ${shortId(invitationID)}: ${describeError(result.error)}`, 'bad');
  else log.add('cancelInvitation', `canceled ${what} of ${shortId(invitationID)}${failed}`);
}

async function answer({ invitationID, inviter, type }: InvitationReceivedEvent, choice: Answer): Promise<void> {
  const method = choice === 'accept' ? 'acceptInvitation' : 'refuseInvitation';
  // Before accepting: the inviter calls as soon as they learn of it, possibly before acceptInvitation resolves.
  if (choice === 'accept') calls.expectCallFrom(inviter.id, type);
  const result = await plugin[method]({ invitationID });
  if (result.error) {
    if (choice === 'accept') calls.forget(inviter.id);
    log.add(method, `${shortId(invitationID)}: ${describeError(result.error)}`, 'bad');
    incoming.close(invitationID, `Too late: ${result.error.message}.`);
  } else {
    log.add(method, `${choice === 'accept' ? 'accepted' : 'refused'} invitation ${shortId(invitationID)}`, choice === 'accept' ? 'good' : 'info');
    incoming.close(invitationID, choice === 'accept' ? 'You accepted the call.' : 'You refused the call.');
  }
}

connectForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void connect({ id: userIdInput.value.trim(), name: userNameInput.value.trim() || userIdInput.value.trim() });
});
disconnectButton.addEventListener('click', () => void disconnect());
inviteForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void invite();
});
byId('hang-up').addEventListener('click', () => calls.hangUp());
byId('clear-log').addEventListener('click', () => log.clear());
setInterval(() => {
  incoming.tick();
  outgoing.tick();
}, 250);

setConnected(false);
const fromAddress = userFromAddress();
if (fromAddress) {
  userIdInput.value = fromAddress.id;
  userNameInput.value = fromAddress.name;
  void connect(fromAddress);
}
document.body.dataset.ready = 'true';

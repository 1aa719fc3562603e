/**
 * End-to-end tests of the demo: real pages, each in its own browser context,
 * driven by typing and clicking (and once from the keyboard), over the test
 * runner's PeerServer. The test runner serves demo/index.html and compiles
 * demo/app.ts, resolving 'peer-invitation' to dist/peer-invitation.js (which
 * `npm test` builds first).
 */
import { expect } from '@esm-bundle/chai';
import { uniqueId } from './helpers.js';
import { Tabs, attr, type DemoTab } from './demo-support/tabs.js';

const DEMO = '/demo/index.html';
const SCRIPT_TAG = '/demo/script-tag.html';
/** Long enough to answer; the timeout test uses a short one. */
const TIMEOUT_S = 20;

describe('demo page', function () {
  // Each page loads the library's modules unbundled (rxjs alone is some 200 files) into a fresh context: seconds per tab.
  this.timeout(120_000);
  const tabs = new Tabs();
  afterEach(() => tabs.cleanup());

  async function aliceAndBob(): Promise<{ alice: DemoTab; bob: DemoTab }> {
    const alice = await tabs.open(DEMO, uniqueId('alice'), 'Alice');
    const bob = await tabs.open(DEMO, uniqueId('bob'), 'Bob');
    return { alice, bob };
  }

  it('invites, rings with a live countdown, and is accepted', async () => {
    const { alice, bob } = await aliceAndBob();
    await alice.invite({ invitees: [bob.id], type: 1, timeout: TIMEOUT_S, data: 'room 7' });

    await bob.waitForRinging(alice.id);
    const card = bob.incoming(alice.id);
    expect(await bob.tab.text(`${card} [data-testid="inviter-name"]`)).to.equal('Alice');
    expect(await bob.tab.text(`${card} [data-testid="call-type"]`)).to.equal('video call');
    expect(await bob.tab.text(`${card} [data-testid="invitation-data"]`)).to.equal('room 7');
    const seconds = await bob.secondsLeft(alice.id);
    expect(seconds).to.be.within(1, TIMEOUT_S);
    // The countdown runs: it shows fewer seconds (a generous wait, not a timing check).
    await bob.tab.waitFor(`Number(document.querySelector('${card} [data-testid="countdown"]').dataset.seconds) < ${seconds}`, 15_000);
    await alice.waitForInviteeState(bob.id, 'delivered');
    await alice.tab.screenshot('test-artifacts/demo-alice.png');
    await bob.tab.screenshot('test-artifacts/demo-bob.png');

    await bob.tab.click(`${card} [data-testid="accept"]`);
    await alice.waitForInviteeState(bob.id, 'accepted');
    await alice.waitForLog('invitationAccepted$');
    await bob.tab.waitForGone(card);
    expect(await bob.tab.text('#incoming-status')).to.equal('You accepted the call.');
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('turns an accepted video invitation into a media call; Hang up ends it on both sides', async () => {
    const { alice, bob } = await aliceAndBob();
    await alice.invite({ invitees: [bob.id], type: 1, timeout: TIMEOUT_S });
    await bob.waitForRinging(alice.id);
    await bob.tab.click(`${bob.incoming(alice.id)} [data-testid="accept"]`);

    for (const [side, other] of [[alice, bob], [bob, alice]] as const) {
      await side.waitForCall();
      expect(await side.liveTracks('#remote-video')).to.deep.equal(['audio', 'video']);
      expect(await side.liveTracks('#local-video')).to.deep.equal(['audio', 'video']);
      await side.tab.waitForText('#call-status', `In a video call with ${other.id}`);
      expect(await side.tab.text('#remote-caption')).to.equal(other.id);
      // Frames arrive, not only tracks (the fake camera's picture).
      await side.tab.waitFor(`document.querySelector('#remote-video').videoWidth > 0`);
      // Kept to check, after the call, that its tracks were stopped.
      await side.tab.evaluate(`(window.localStreamOfTheCall = document.querySelector('#local-video').srcObject, true)`);
    }
    await alice.tab.screenshot('test-artifacts/demo-call-alice.png');

    await bob.tab.click('#hang-up');
    await bob.waitForCallEnded();
    await bob.waitForLogText('call', `you hung up on ${alice.id}`);
    await alice.waitForCallEnded();
    await alice.waitForLogText('call', `${bob.id} hung up`);
    for (const side of [alice, bob]) {
      expect(await side.tab.evaluate(`window.localStreamOfTheCall.getTracks().map((track) => track.readyState)`)).to.deep.equal(['ended', 'ended']);
      expect(await side.tab.evaluate(`document.querySelector('#remote-video').srcObject`)).to.equal(null);
    }
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('logs a refused camera and microphone; the invitation is answered all the same', async () => {
    const { alice, bob } = await aliceAndBob();
    // As if Alice had said no to the browser's prompt.
    await alice.tab.evaluate(`(navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')), true)`);
    await alice.invite({ invitees: [bob.id], type: 0, timeout: TIMEOUT_S });
    await bob.waitForRinging(alice.id);
    await bob.tab.click(`${bob.incoming(alice.id)} [data-testid="accept"]`);

    await alice.waitForInviteeState(bob.id, 'accepted');
    await alice.waitForLogText('getUserMedia', 'no microphone: NotAllowedError: Permission denied');
    await alice.waitForCallEnded();
    expect(await bob.tab.evaluate(`document.querySelector('#call-panel').hidden`)).to.equal(true);
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('rings in two tabs of one user; an answer in one closes the card in the other: answered in another tab', async () => {
    const alice = await tabs.open(DEMO, uniqueId('alice'), 'Alice');
    const bobId = uniqueId('bob');
    const first = await tabs.openInProfile(DEMO, bobId, 'Bob');
    const second = await tabs.openInProfile(DEMO, bobId, 'Bob');
    await alice.invite({ invitees: [bobId], type: 0, timeout: TIMEOUT_S });
    await first.waitForRinging(alice.id);
    await second.waitForRinging(alice.id);

    const card = second.incoming(alice.id);
    await second.tab.clickInPage(`${card} [data-testid="refuse"]`);
    await alice.waitForInviteeState(bobId, 'refused');
    await second.tab.waitForGone(card);
    expect(await second.tab.text('#incoming-status')).to.equal('You refused the call.');
    await first.tab.waitForGone(first.incoming(alice.id));
    expect(await first.tab.text('#incoming-status')).to.equal('Answered in another tab (refused).');
    await first.waitForLog('invitationAnsweredElsewhere$');
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('invites and is refused', async () => {
    const { alice, bob } = await aliceAndBob();
    await alice.invite({ invitees: [bob.id], type: 0, timeout: TIMEOUT_S });
    await bob.waitForRinging(alice.id);
    expect(await bob.tab.text(`${bob.incoming(alice.id)} [data-testid="call-type"]`)).to.equal('voice call');

    // From the keyboard this time: the buttons must be reachable without a mouse.
    await bob.tab.press(`${bob.incoming(alice.id)} [data-testid="refuse"]`);
    await alice.waitForInviteeState(bob.id, 'refused');
    await alice.waitForLog('invitationRefused$');
    await bob.tab.waitForGone(bob.incoming(alice.id));
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('cancels one invitee, then all the others; their calls close by themselves', async () => {
    const { alice, bob } = await aliceAndBob();
    const carol = await tabs.open(DEMO, uniqueId('carol'), 'Carol');
    await alice.invite({ invitees: [bob.id, carol.id], type: 1, timeout: TIMEOUT_S });
    await bob.waitForRinging(alice.id);
    await carol.waitForRinging(alice.id);
    await alice.waitForInviteeState(carol.id, 'delivered');

    await alice.tab.click(`[data-testid="invitee"]${attr('data-invitee', carol.id)} [data-testid="select-invitee"]`);
    await alice.tab.click('[data-testid="outgoing"] [data-testid="cancel-selected"]');
    await alice.waitForInviteeState(carol.id, 'canceled');
    await carol.tab.waitForGone(carol.incoming(alice.id));
    await carol.waitForLog('invitationCanceled$');
    expect(await carol.tab.text('#incoming-status')).to.equal('Alice (' + alice.id + ') canceled the call.');
    expect(await bob.tab.exists(bob.incoming(alice.id))).to.equal(true);
    expect(await alice.tab.text(alice.inviteeState(bob.id))).to.be.oneOf(['queued', 'delivered']);

    await alice.tab.click('[data-testid="outgoing"] [data-testid="cancel-all"]');
    await alice.waitForInviteeState(bob.id, 'canceled');
    await bob.tab.waitForGone(bob.incoming(alice.id));
    await alice.tab.waitFor(`!document.querySelector('[data-testid="outgoing"] [data-testid="dismiss"]').hidden`);
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('times out unanswered; the call closes by itself', async () => {
    const { alice, bob } = await aliceAndBob();
    await alice.invite({ invitees: [bob.id], type: 0, timeout: 4 });
    await bob.waitForRinging(alice.id);
    await bob.tab.waitForGone(bob.incoming(alice.id), 10_000);
    await bob.waitForLog('invitationTimeout$');
    await alice.waitForInviteeState(bob.id, 'timeout');
    await alice.waitForLog('invitationResponseTimeout$');
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('delivers an invitation to an offline id when that tab opens', async () => {
    const alice = await tabs.open(DEMO, uniqueId('alice'), 'Alice');
    const daveId = uniqueId('dave');
    await alice.invite({ invitees: [daveId], type: 1, timeout: TIMEOUT_S });
    await alice.waitForInviteeState(daveId, 'queued');

    const dave = await tabs.open(DEMO, daveId, 'Dave');
    await dave.waitForRinging(alice.id);
    await alice.waitForInviteeState(daveId, 'delivered');
    await dave.tab.click(`${dave.incoming(alice.id)} [data-testid="accept"]`);
    await alice.waitForInviteeState(daveId, 'accepted');
    expect(await tabs.errors()).to.deep.equal([]);
  });

  it('loses nothing when either tab reloads', async () => {
    const { alice, bob } = await aliceAndBob();
    await alice.invite({ invitees: [bob.id], type: 1, timeout: 30 });
    await bob.waitForRinging(alice.id);
    await alice.waitForInviteeState(bob.id, 'delivered');
    const before = await bob.secondsLeft(alice.id);

    // The address now names the user, so the reloaded page connects by itself.
    await bob.tab.reload();
    await bob.waitForConnected();
    await bob.waitForRinging(alice.id);
    expect(await bob.secondsLeft(alice.id)).to.be.within(1, before);

    await alice.tab.reload();
    await alice.waitForConnected();
    await alice.waitForInviteeState(bob.id, 'delivered');
    expect(await alice.tab.text('[data-testid="outgoing"] .pill')).to.equal('video invitation');

    await bob.tab.click(`${bob.incoming(alice.id)} [data-testid="accept"]`);
    await alice.waitForInviteeState(bob.id, 'accepted');
    expect(await tabs.errors()).to.deep.equal([]);
  });
});

describe('script-tag page', function () {
  this.timeout(120_000);
  const tabs = new Tabs();
  afterEach(() => tabs.cleanup());

  it('invites and accepts using only the global PeerInvitation', async () => {
    const alice = await tabs.open(SCRIPT_TAG, uniqueId('alice'), 'Alice');
    const bob = await tabs.open(SCRIPT_TAG, uniqueId('bob'), 'Bob');
    expect(await alice.tab.evaluate('typeof PeerInvitation.createSignalingPlugin')).to.equal('function');

    await alice.invite({ invitees: [bob.id], type: 1, timeout: TIMEOUT_S });
    await bob.waitForRinging(alice.id);
    expect(await bob.tab.text(`${bob.incoming(alice.id)} [data-testid="inviter-name"]`)).to.equal(`Alice (${alice.id})`);
    expect(await bob.secondsLeft(alice.id)).to.be.within(1, TIMEOUT_S);
    await alice.waitForInviteeState(bob.id, 'delivered');
    await alice.tab.screenshot('test-artifacts/script-tag-alice.png');
    await bob.tab.screenshot('test-artifacts/script-tag-bob.png');

    await bob.tab.click(`${bob.incoming(alice.id)} [data-testid="accept"]`);
    await alice.waitForInviteeState(bob.id, 'accepted');
    await alice.waitForLog('invitationAccepted$');
    await bob.tab.waitForGone(bob.incoming(alice.id));
    expect(await tabs.errors()).to.deep.equal([]);
  });
});

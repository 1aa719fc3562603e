// The service worker's decisions (peer-invitation/sw), pure: which notification a push shows
// and what a click means. A real click cannot be automated in either browser; this is it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clickDecision, configFromScriptUrl, notificationFor, readPush } from '../../dist/sw/index.js';

const now = 1_700_000_000_000;
const ring = { v: 1, kind: 'ring', invitationID: 'alice:7', inviterID: 'alice', inviterName: 'Alice', type: 1, deadline: now + 20_000, title: 'Call', message: 'Room 7', decline: 'cap.sig' };
const scope = 'https://app.example/';

describe('service worker decisions', () => {
  it('reads only our pushes', () => {
    assert.deepEqual(readPush(JSON.stringify(ring)), ring);
    for (const text of [undefined, 'not json', '{}', JSON.stringify({ ...ring, v: 2 }), JSON.stringify({ ...ring, decline: undefined }), JSON.stringify({ ...ring, inviterID: 7 })]) assert.equal(readPush(text), undefined);
  });

  it('shows the verified id first, the app texts in the body, and nothing past the deadline', () => {
    const plan = notificationFor(ring, now);
    assert.equal(plan.title, 'alice (Alice) is calling');
    assert.equal(plan.options.body, 'Call\nRoom 7');
    assert.equal(plan.options.tag, 'alice:7');
    assert.equal(plan.options.requireInteraction, true);
    assert.deepEqual(plan.options.actions.map((action) => action.action), ['accept', 'decline']);
    assert.deepEqual(plan.options.data, { invitationID: 'alice:7', inviterID: 'alice', kind: 'ring', decline: 'cap.sig', deadline: now + 20_000 });
    assert.equal(notificationFor({ ...ring, inviterName: 'alice' }, now).title, 'alice is calling');
    assert.equal(notificationFor(ring, now + 20_000), undefined);
    const missed = notificationFor({ v: 1, kind: 'missed', invitationID: 'alice:7', inviterID: 'alice', inviterName: 'Alice', type: 1, reason: 'timeout' }, now + 60_000);
    assert.equal(missed.title, 'Missed call: alice (Alice)');
    assert.equal(missed.options.tag, 'alice:7');
    assert.deepEqual(missed.options.actions, []);
  });

  it('accept opens the accept URL with the invitation id; decline POSTs the capability; the body opens the app', () => {
    const data = notificationFor(ring, now).options.data;
    const config = { serverUrl: 'https://signal.example/peerjs/', acceptUrl: '/call', appUrl: '/inbox' };
    assert.deepEqual(clickDecision({ action: 'accept', data, config, scope, now }), { kind: 'open', url: 'https://app.example/call?peerInvitationAccept=alice%3A7' });
    assert.deepEqual(clickDecision({ action: 'decline', data, config, scope, now }), { kind: 'decline', url: 'https://signal.example/peerjs/push/decline', body: JSON.stringify({ capability: 'cap.sig' }) });
    assert.deepEqual(clickDecision({ action: '', data, config, scope, now }), { kind: 'open', url: 'https://app.example/inbox' });
    // Past the deadline: accept only opens the app, decline does nothing.
    assert.deepEqual(clickDecision({ action: 'accept', data, config, scope, now: now + 20_000 }), { kind: 'open', url: 'https://app.example/inbox' });
    assert.deepEqual(clickDecision({ action: 'decline', data, config, scope, now: now + 20_000 }), { kind: 'nothing' });
    // Without a configured server there is nowhere to decline; without config Accept opens the scope.
    assert.deepEqual(clickDecision({ action: 'decline', data, config: {}, scope, now }), { kind: 'nothing' });
    assert.deepEqual(clickDecision({ action: 'accept', data, config: {}, scope, now }), { kind: 'open', url: 'https://app.example/?peerInvitationAccept=alice%3A7' });
  });

  it('reads its config from the script URL', () => {
    assert.deepEqual(configFromScriptUrl('https://app.example/peer-invitation-sw.js?server=https%3A%2F%2Fsignal.example%2Fpeerjs&accept=%2Fcall'), { serverUrl: 'https://signal.example/peerjs', acceptUrl: '/call' });
    assert.deepEqual(configFromScriptUrl('https://app.example/sw.js'), {});
  });
});

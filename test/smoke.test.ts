import { expect } from '@esm-bundle/chai';
import { Harness, next } from './helpers.js';

describe('smoke', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('invites and accepts between two plugins over a real data channel', async () => {
    const alice = await harness.user('alice');
    const bob = await harness.user('bob');
    const received = next(bob.plugin.invitationReceived$);
    const accepted = next(alice.plugin.invitationAccepted$);
    const result = await alice.plugin.sendInvitation({ inviterName: 'Alice', invitees: [bob.id], timeout: 10, type: 1, data: 'hi' });
    expect(result.error).to.equal(undefined);
    const invitation = await received;
    expect(invitation.invitationID).to.equal(result.invitationID);
    expect(invitation.inviter).to.deep.equal({ id: alice.id, name: 'Alice' });
    const answer = await bob.plugin.acceptInvitation({ invitationID: invitation.invitationID, data: 'yes' });
    expect(answer.error).to.equal(undefined);
    expect(await accepted).to.deep.equal({ invitationID: result.invitationID, invitee: bob.id, data: 'yes' });
  });
});

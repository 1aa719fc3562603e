/** `stats().pendingDeliveries` counts advanced-mode call messages still owed (memory network, virtual clock). */
import { expect } from '@esm-bundle/chai';
import { World } from './world.js';

let world: World;
beforeEach(() => {
  world = new World();
});
afterEach(() => world.cleanup());

describe('advanced mode: pending deliveries', () => {
  it('counts the end owed to a member that is away, until that member acks it', async () => {
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((id) => world.user(id)));
    const { invitationID: callID, error } = await alice!.sendInvitation({ inviterName: 'A', invitees: ['bob'], timeout: 30, type: 1, data: '', advancedMode: true });
    expect(error).to.equal(undefined);
    await world.clock.settle();
    expect((await bob!.acceptInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    expect(alice!.stats().pendingDeliveries).to.equal(0);

    await bob!.disconnectUser();
    expect((await alice!.endInvitation({ invitationID: callID })).error).to.equal(undefined);
    await world.clock.settle();
    // No leg owes anything (the ring was answered): the one owed message is the call's end.
    expect(alice!.stats().pendingDeliveries).to.equal(1);

    const ended = world.record(bob!.invitationEnded$);
    await bob!.connectUser({ id: 'bob', name: 'bob' });
    // Alice's next retry (the backoff) reaches Bob.
    await world.clock.advance(10_000);
    expect(ended.map((event) => event.invitationID)).to.deep.equal([callID]);
    expect(alice!.stats().pendingDeliveries).to.equal(0);
  });
});

/**
 * The mailbox across nodes: a message for an id registered nowhere waits on the sender's node
 * (the server's one bounded mailbox); each registration is announced on one channel, and a node
 * holding messages for that id sends them there.
 */
import type { Mailbox } from '../mailbox.js';
import type { Switchboard } from '../switchboard.js';
import { REGISTERED_CHANNEL, type RedisLink } from './redis.js';

export function clusterMailbox({ link, mailbox, switchboard }: { link: RedisLink; mailbox: Mailbox; switchboard: Switchboard }) {
  return {
    async listen(): Promise<void> {
      await link.subscriber.subscribe(REGISTERED_CHANNEL, (userId) => {
        if (mailbox.has(userId)) void switchboard.sendParked(userId);
      });
    },
    /** `userId` registered here: whatever waits for it on any node comes. */
    announce(userId: string): Promise<void> {
      return link.call(() => link.redis.publish(REGISTERED_CHANNEL, userId)).then(() => undefined);
    },
    /** Tries again to send on everything waiting here (Redis is back). */
    sendAll(): void {
      for (const userId of mailbox.recipients()) void switchboard.sendParked(userId);
    },
  };
}

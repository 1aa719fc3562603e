/**
 * Messages between nodes: a pub/sub channel per node carries OFFER, ANSWER, CANDIDATE, LEAVE
 * (and EXPIRE) to the node holding the destination, with `src` set by the sender's node.
 */
import type { Relayed } from '../mailbox.js';
import type { Onward, Switchboard } from '../switchboard.js';
import { channelOf, type RedisLink } from './redis.js';
import type { Registry } from './registry.js';

/** Sends a message to the node holding its destination; resolves false when no node holds it. */
export function routing({ link, registry, switchboard, nodeId }: { link: RedisLink; registry: Registry; switchboard: Switchboard; nodeId: string }): Onward & {
  listen(): Promise<void>;
} {
  return {
    async forward(message) {
      const outcome = await registry.publishToHolder(message.dst, JSON.stringify(message));
      if (outcome === 'here') switchboard.deliverHere(message);
      return outcome !== 'nowhere';
    },
    async listen() {
      await link.subscriber.subscribe(channelOf(nodeId), (text) => {
        let message: Relayed;
        try {
          message = JSON.parse(text) as Relayed;
        } catch {
          return; // Only nodes publish here; a frame that is not JSON is not ours to read.
        }
        switchboard.deliverHere(message);
      });
    },
  };
}

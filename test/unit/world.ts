/**
 * For the plugin unit tests: plugins on one memory network and one virtual
 * clock, and everything they create removed in `cleanup`.
 */
import { Subscription, VirtualTimeScheduler, map, merge, type Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { SignalingPluginOptions } from '../../src/api/options.js';
import type { SignalingPlugin } from '../../src/api/plugin.js';
import { DEFAULT_LIMITS } from '../../src/options.js';
import { DEFAULT_DELIVERY } from '../../src/options.js';
import { createSignalingPlugin } from '../../src/plugin.js';
import type { Message } from '../../src/core/protocol.js';
import { deleteMemoryDatabase } from '../../src/storage/store.js';
import type { Transport } from '../../src/transport/transport.js';
import { createMemoryNetwork, type MemoryNetwork, type MemoryNetworkOptions } from '../memory-transport.js';

/**
 * Virtual time that lets promise chains run: `advance` fires the timers due in
 * order, one instant at a time, and between instants waits for a macrotask so
 * that every microtask (store writes, connects, frames) has settled.
 */
export class VirtualClock {
  readonly scheduler = new VirtualTimeScheduler();

  now(): number {
    return this.scheduler.now();
  }

  async advance(ms: number): Promise<void> {
    const target = this.scheduler.frame + ms;
    for (let instants = 0; ; instants++) {
      if (instants > 100_000) throw new Error('timers keep rescheduling themselves without time passing');
      await nextTask();
      const due = this.scheduler.actions[0];
      if (!due || due.delay > target) break;
      this.scheduler.maxFrames = due.delay;
      this.scheduler.flush();
    }
    this.scheduler.maxFrames = Infinity;
    this.scheduler.frame = target;
  }

  async advanceTo(time: number): Promise<void> {
    if (time < this.scheduler.frame) throw new Error(`the clock is already at ${this.scheduler.frame}`);
    await this.advance(time - this.scheduler.frame);
  }

  /** Lets everything that needs no time happen. */
  settle(): Promise<void> {
    return this.advance(0);
  }

  /** The same timers on another machine's clock, `offsetMs` ahead of this one. */
  skewed(offsetMs: number): SchedulerLike {
    return new SkewedScheduler(this.scheduler, offsetMs);
  }
}

class SkewedScheduler implements SchedulerLike {
  constructor(
    private readonly base: SchedulerLike,
    private readonly offsetMs: number,
  ) {}

  now(): number {
    return this.base.now() + this.offsetMs;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return this.base.schedule(work, delay, state);
  }
}

/** A macrotask: it runs after every microtask queued before it. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

let worlds = 0;

/** The plugin's event streams, by name: what `journal` records. */
const EVENT_STREAMS = [
  'invitationReceived$',
  'invitationCanceled$',
  'invitationAccepted$',
  'invitationRefused$',
  'invitationTimeout$',
  'invitationResponseTimeout$',
  'inviteeStateChanged$',
  'errors$',
] as const;

export type EventName = (typeof EVENT_STREAMS)[number];

export interface JournalEntry {
  event: EventName;
  value: unknown;
}

/** A bare transport on the network, driven by hand: a peer that can say anything. */
export interface RawPeer {
  readonly transport: Transport;
  /** Every frame it received, in order. */
  readonly frames: unknown[];
  /** Connects if needed, then sends. */
  send(to: string, message: Message): Promise<void>;
}

export class World {
  readonly clock = new VirtualClock();
  readonly network: MemoryNetwork;
  private readonly plugins: SignalingPlugin[] = [];
  private readonly rawPeers: Transport[] = [];
  private readonly databases = new Set<string>();
  private readonly subscriptions = new Subscription();
  private readonly name = `unit-${++worlds}-${Math.random().toString(36).slice(2, 8)}`;
  private invitationIDs = 0;

  constructor(networkOptions: MemoryNetworkOptions = {}) {
    this.network = createMemoryNetwork(networkOptions);
  }

  /** A plugin on this world's network and clock, with a fresh memory database and readable invitation ids. */
  plugin(options: SignalingPluginOptions = {}): SignalingPlugin {
    const databaseName = options.databaseName ?? `${this.name}:db${this.plugins.length}`;
    this.databases.add(databaseName);
    const plugin = createSignalingPlugin({
      storage: 'memory',
      transport: this.network.transport,
      scheduler: this.clock.scheduler,
      createInvitationID: () => `inv-${++this.invitationIDs}`,
      notify: () => undefined,
      ...options,
      databaseName,
    });
    this.plugins.push(plugin);
    return plugin;
  }

  /** A plugin connected as `id` (named after it unless `name` is given). */
  async user(id: string, options: SignalingPluginOptions & { name?: string } = {}): Promise<SignalingPlugin> {
    const { name = id, ...pluginOptions } = options;
    const plugin = this.plugin(pluginOptions);
    await plugin.connectUser({ id, name });
    await this.clock.settle();
    return plugin;
  }

  /** A bare transport registered as `id`. */
  async raw(id: string): Promise<RawPeer> {
    const transport = this.network.transport({ id, peer: {}, delivery: DEFAULT_DELIVERY, limits: DEFAULT_LIMITS, scheduler: this.clock.scheduler, clock: this.clock });
    this.rawPeers.push(transport);
    await transport.open();
    const frames: unknown[] = [];
    this.subscriptions.add(transport.frames$.subscribe(({ frame }) => frames.push(frame)));
    return {
      transport,
      frames,
      async send(to, message) {
        await transport.connect(to);
        transport.send(to, message);
      },
    };
  }

  /** Every event of every stream of `plugin`, in order, until cleanup. */
  journal(plugin: SignalingPlugin): JournalEntry[] {
    const streams = EVENT_STREAMS.map((event) => (plugin[event] as Observable<unknown>).pipe(map((value): JournalEntry => ({ event, value }))));
    return this.record(merge(...streams));
  }

  /** Every value `source` emits until cleanup. */
  record<T>(source: Observable<T>): T[] {
    const values: T[] = [];
    this.subscriptions.add(source.subscribe((value) => values.push(value)));
    return values;
  }

  async cleanup(): Promise<void> {
    this.subscriptions.unsubscribe();
    await Promise.all(this.plugins.splice(0).map((plugin) => plugin.dispose()));
    for (const transport of this.rawPeers.splice(0)) transport.close();
    for (const name of this.databases) {
      deleteMemoryDatabase(name);
      // Where the plugin goes on when its own store fails to open.
      deleteMemoryDatabase(`${name} (fallback)`);
    }
    this.databases.clear();
  }
}

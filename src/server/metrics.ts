/**
 * Counters and gauges an operator scrapes at `GET <path>/metrics`, in the Prometheus text
 * exposition format (version 0.0.4). Any part of the server (a new message path, Web Push)
 * takes a counter by name and increments it; the same name gives the same counter.
 */
export type Labels = Record<string, string>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Metrics {
  /** The counter `name` (created on first use); `help` is its one-line description. */
  counter(name: string, help: string): Counter;
  /** A gauge read as the metrics are scraped. */
  gauge(name: string, help: string, read: () => number): void;
  /** Everything, as Prometheus text. */
  render(): string;
}

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, number>;
  read?: () => number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function createMetrics(): Metrics {
  const families = new Map<string, Family>();
  const family = (name: string, help: string, type: Family['type']): Family => {
    if (!NAME.test(name)) throw new TypeError(`metrics: "${name}" is not a Prometheus metric name`);
    let found = families.get(name);
    if (found && found.type !== type) throw new TypeError(`metrics: "${name}" is already a ${found.type}`);
    if (!found) families.set(name, (found = { help, type, values: new Map() }));
    return found;
  };
  return {
    counter(name, help) {
      const { values } = family(name, help, 'counter');
      return {
        inc(labels = {}, by = 1) {
          const key = labelText(labels);
          values.set(key, (values.get(key) ?? 0) + by);
        },
      };
    },
    gauge(name, help, read) {
      family(name, help, 'gauge').read = read;
    },
    render() {
      const lines: string[] = [];
      for (const [name, { help, type, values, read }] of families) {
        lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
        if (read) lines.push(`${name} ${read()}`);
        else if (values.size === 0) lines.push(`${name} 0`);
        for (const [labels, value] of values) lines.push(`${name}${labels} ${value}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

/** The server's own metrics, one counter each, named once here. */
export function serverCounters(metrics: Metrics) {
  return {
    relayed: metrics.counter('peer_invitation_messages_relayed_total', 'Messages handed to a registered client, here or on another node, by type'),
    parked: metrics.counter('peer_invitation_messages_parked_total', 'Messages parked in the mailbox for an id registered nowhere, by type'),
    refusals: metrics.counter('peer_invitation_refusals_total', 'Frames, handshakes and parkings refused, by reason'),
    cutOffs: metrics.counter('peer_invitation_cut_offs_total', 'Clients cut off for a cool-down after repeated violations'),
    redisRoundTrips: metrics.counter('peer_invitation_redis_round_trips_total', 'Redis commands sent by this node (cluster only), by outcome'),
    pushesSent: metrics.counter('peer_invitation_pushes_sent_total', 'Web Push messages sent'),
  };
}

export type ServerCounters = ReturnType<typeof serverCounters>;

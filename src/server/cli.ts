/**
 * `npx peer-invitation-server --port 9000 --secret-file ./secret`: the companion
 * PeerServer from the command line. The secret comes from a file or from the
 * PEER_INVITATION_SECRET environment variable, never from the command line
 * (which other users of the machine can read in the process list).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startPeerServer } from './peer-server.js';
import { readVapidKeyFile, writeVapidKeyFile } from './push/vapid.js';

const USAGE = `Usage: peer-invitation-server [options]
       peer-invitation-server generate-vapid-keys FILE   (writes a new VAPID key pair for --vapid-key-file)
  --port N               TCP port (default 9000; 0 picks a free one)
  --host ADDRESS         interface to listen on (default: all)
  --path PATH            mount path, the clients' \`path\` (default /peerjs)
  --secret-file FILE     the token secret (at least 16 bytes; surrounding whitespace is ignored)
  --expire-timeout-ms N  how long an offer for an offline id waits (default 60000)
  --alive-timeout-ms N   how long a silent client keeps its id (default 30000)
  --concurrent-limit N   at most this many registered clients (default 5000)
  --redis-url URL        join the cluster of servers sharing this Redis (redis://host:port)
  --vapid-key-file FILE  Web Push: the VAPID key pair (JSON from generate-vapid-keys); needs --push-subject
  --push-subject URL     Web Push: who runs this server, mailto: or https: (told to the push services)
  --turn-url URL         a TURN server whose credentials each client receives (repeatable), e.g.
                         turn:turn.example.com:3478?transport=udp, turns:turn.example.com:443?transport=tcp
  --turn-secret-file FILE  that TURN server's shared secret (coturn: static-auth-secret)
  --turn-ttl-seconds N   how long each client's TURN credentials are valid (default 86400)
  --no-relay             do not relay protocol messages between clients (the server could read them)
  --proxied              behind a reverse proxy: a client's address is the last X-Forwarded-For entry
  --open                 no tokens: anyone may register any free id (development only)
Environment: PEER_INVITATION_SECRET, the secret, when there is no --secret-file;
  PEER_INVITATION_METRICS_TOKEN (16 characters or more): serve GET <path>/metrics to "Authorization: Bearer <it>".`;

function fail(message: string): never {
  console.error(`peer-invitation-server: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function number(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`--${name} must be a whole number; got "${text}"`);
  return value;
}

if (process.argv[2] === 'generate-vapid-keys') {
  const file = process.argv[3];
  if (file === undefined || process.argv.length > 4) fail('generate-vapid-keys takes one argument: the file to write');
  try {
    const { publicKey } = writeVapidKeyFile(file);
    console.log(`wrote a VAPID key pair to ${file} (public key ${publicKey})`);
    process.exit(0);
  } catch (error) {
    fail(`cannot write ${file}: ${(error as Error).message}`);
  }
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      path: { type: 'string' },
      'secret-file': { type: 'string' },
      'expire-timeout-ms': { type: 'string' },
      'alive-timeout-ms': { type: 'string' },
      'concurrent-limit': { type: 'string' },
      'redis-url': { type: 'string' },
      'vapid-key-file': { type: 'string' },
      'push-subject': { type: 'string' },
      'turn-url': { type: 'string', multiple: true },
      'turn-secret-file': { type: 'string' },
      'turn-ttl-seconds': { type: 'string' },
      'no-relay': { type: 'boolean' },
      proxied: { type: 'boolean' },
      open: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

let secret: string | undefined;
try {
  secret = args['secret-file'] !== undefined ? readFileSync(args['secret-file'], 'utf8').trim() : process.env.PEER_INVITATION_SECRET?.trim() || undefined;
} catch (error) {
  fail(`cannot read the secret file: ${(error as Error).message}`);
}
if (secret === undefined && !args.open) fail('no secret: give --secret-file FILE or PEER_INVITATION_SECRET (or --open for a server without tokens)');
if (secret !== undefined && args.open) fail('--open and a secret exclude each other');

if ((args['vapid-key-file'] === undefined) !== (args['push-subject'] === undefined)) fail('--vapid-key-file and --push-subject go together');
let vapidKeys;
try {
  vapidKeys = args['vapid-key-file'] === undefined ? undefined : readVapidKeyFile(args['vapid-key-file']);
} catch (error) {
  fail(`cannot read the VAPID key file: ${(error as Error).message}`);
}

const turnUrls = args['turn-url'] ?? [];
if ((turnUrls.length > 0) !== (args['turn-secret-file'] !== undefined)) fail('--turn-url and --turn-secret-file go together');
let turnSecret: string | undefined;
try {
  turnSecret = args['turn-secret-file'] !== undefined ? readFileSync(args['turn-secret-file'], 'utf8').trim() : undefined;
} catch (error) {
  fail(`cannot read the TURN secret file: ${(error as Error).message}`);
}

const path = args.path ?? '/peerjs';
let server;
try {
  server = await startPeerServer({
    port: number('port', args.port) ?? 9000,
    host: args.host,
    path,
    secret,
    expireTimeoutMs: number('expire-timeout-ms', args['expire-timeout-ms']),
    aliveTimeoutMs: number('alive-timeout-ms', args['alive-timeout-ms']),
    concurrentLimit: number('concurrent-limit', args['concurrent-limit']),
    redisUrl: args['redis-url'],
    push: vapidKeys === undefined ? undefined : { vapidKeys, subject: args['push-subject']! },
    relay: !args['no-relay'],
    turn: turnSecret === undefined ? undefined : { urls: turnUrls, secret: turnSecret, ttlSeconds: number('turn-ttl-seconds', args['turn-ttl-seconds']) },
    proxied: args.proxied,
    metricsToken: process.env.PEER_INVITATION_METRICS_TOKEN?.trim() || undefined,
  });
} catch (error) {
  const { code, message } = error as NodeJS.ErrnoException;
  fail(code === 'EADDRINUSE' ? `port ${args.port ?? 9000} is taken` : message);
}
// Before the line that says it listens: whoever reads that line may signal at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
const cluster = args['redis-url'] === undefined ? '' : ', in the cluster of its Redis';
const push = vapidKeys === undefined ? '' : ', Web Push on';
const reach = `${args['no-relay'] ? ', no relay' : ', relay on'}${turnUrls.length > 0 ? `, TURN credentials for ${turnUrls.join(' ')}` : ''}`;
console.log(`peer-invitation-server listening on port ${server.port}, path ${path}, ${secret === undefined ? 'OPEN (no tokens)' : 'tokens required'}${cluster}${reach}${push}`);

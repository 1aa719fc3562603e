// Test-runner command `companion-server`: real companion PeerServer processes
// (dist/server/, built by `npm test`) that tests start, restart, stop, and ask for
// tokens. Secrets stay here in Node, as they would in an app's backend.
//   start   { secret?: true, verify?: 'app', expireTimeoutMs?, aliveTimeoutMs?, cluster?: true, secretOf?: handle }
//           → { handle, host, port, path }; `cluster`: joins the run's Redis (a redis-server started on
//           first use); `secretOf`: the same secret as that server (nodes of one cluster share it)
//   sign    { handle, userId, expiresInSeconds?, now?, otherSecret?: true }        → { token }
//   restart { handle, rotateSecret?: true }  same port; a crash (SIGKILL), then a new process
//   stop    { handle }
//   crash   { handle }  SIGKILL, and the port stays this server's (no new process until `relaunch`)
//   relaunch { handle } a new process on the crashed server's port
//   redisCrash / redisRelaunch  SIGKILL the run's redis-server / start a new one (empty) on its port
//   balancer { handles }  → { host, port, path }: one address in front of these servers (a TCP load
//           balancer): each new connection goes to the first of them that accepts it
//   balancerStop { port }
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startCompanionServer } from '../../scripts/companion-server-process.mjs';
import { startRedisServer } from '../../scripts/redis-server-process.mjs';

const HOST = '127.0.0.1';
const PATH = '/peerjs';
/** The app's own check for `verify: 'app'`: a session lookup stand-in. */
const APP_VERIFY = fileURLToPath(new URL('./app-verify.mjs', import.meta.url));

/** Forwards each connection to the first of `ports` that accepts one; `stop()` closes it and its connections. */
function startBalancer(ports) {
  const sockets = new Set();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => {});
    const tryPort = (index) => {
      if (index >= ports.length) return client.destroy();
      const upstream = connect(ports[index], HOST);
      upstream.once('error', () => tryPort(index + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        sockets.add(upstream);
        upstream.once('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        client.once('close', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
      });
    };
    tryPort(0);
  });
  return new Promise((resolve) => {
    server.listen(0, HOST, () =>
      resolve({
        port: server.address().port,
        stop: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

export function companionServerPlugin() {
  const balancers = [];
  const servers = new Map();
  let redis;
  let nextHandle = 1;
  const newSecret = () => randomBytes(32).toString('base64url');
  const serverOf = (handle) => {
    const server = servers.get(handle);
    if (!server) throw new Error(`no companion server with handle ${handle}`);
    return server;
  };
  const launch = (entry) =>
    startCompanionServer({
      options: { port: entry.port, host: HOST, path: PATH, expireTimeoutMs: entry.expireTimeoutMs, aliveTimeoutMs: entry.aliveTimeoutMs ?? 15_000, redisUrl: entry.redisUrl },
      secret: entry.secret,
      verifyModule: entry.verify === 'app' ? APP_VERIFY : undefined,
    });
  const actions = {
    async start({ secret, verify, expireTimeoutMs, aliveTimeoutMs, cluster, secretOf }) {
      if (cluster) redis ??= startRedisServer();
      const redisUrl = cluster ? (await redis).url : undefined;
      const shared = secretOf === undefined ? undefined : serverOf(secretOf).secret;
      const entry = { port: 0, secret: shared ?? (secret ? newSecret() : undefined), verify, expireTimeoutMs, aliveTimeoutMs, redisUrl };
      entry.process = await launch(entry);
      entry.port = entry.process.port;
      const handle = nextHandle++;
      servers.set(handle, entry);
      return { handle, host: HOST, port: entry.port, path: PATH };
    },
    async sign({ handle, userId, expiresInSeconds = 60, now, otherSecret }) {
      const { signToken } = await import('../../dist/server/index.js');
      const secret = otherSecret ? newSecret() : serverOf(handle).secret;
      return { token: signToken({ secret, userId, expiresInSeconds, now }) };
    },
    async restart({ handle, rotateSecret }) {
      const entry = serverOf(handle);
      await entry.process.kill();
      if (rotateSecret) entry.secret = newSecret();
      entry.process = await launch(entry);
      return { handle, host: HOST, port: entry.port, path: PATH };
    },
    async crash({ handle }) {
      await serverOf(handle).process.kill();
      return {};
    },
    async relaunch({ handle }) {
      const entry = serverOf(handle);
      entry.process = await launch(entry);
      return { handle, host: HOST, port: entry.port, path: PATH };
    },
    async redisCrash() {
      await (await redis).stop();
      return {};
    },
    async redisRelaunch() {
      const { port } = await redis;
      redis = startRedisServer(port);
      await redis;
      return {};
    },
    async balancer({ handles }) {
      const balancer = await startBalancer(handles.map((handle) => serverOf(handle).port));
      balancers.push(balancer);
      return { host: HOST, port: balancer.port, path: PATH };
    },
    async balancerStop({ port }) {
      const index = balancers.findIndex((balancer) => balancer.port === port);
      if (index >= 0) await balancers.splice(index, 1)[0].stop();
      return {};
    },
    async stop({ handle }) {
      const entry = servers.get(handle);
      servers.delete(handle);
      await entry?.process.stop();
      return {};
    },
  };
  return {
    name: 'companion-server',
    async executeCommand({ command, payload }) {
      if (command !== 'companion-server') return undefined;
      const action = actions[payload?.action];
      if (!action) throw new Error(`unknown companion-server action ${payload?.action}`);
      return action(payload);
    },
    async serverStop() {
      for (const balancer of balancers.splice(0)) await balancer.stop();
      for (const handle of [...servers.keys()]) await actions.stop({ handle });
      if (redis) await (await redis.catch(() => undefined))?.stop();
    },
  };
}

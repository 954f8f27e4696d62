// Shared helpers for the node:test suites: start the echo server binary on a free port and wait
// for events with a deadline (a missing event fails the test instead of hanging it).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const echoBin = process.env.ROOMCAST_ECHO_BIN || path.join(root, 'target/debug/echo-server');

export async function startEcho(extraArgs = [], port = 0) {
  const proc = spawn(echoBin, ['--port', String(port), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const actualPort = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('echo-server did not start')), 10_000);
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => reject(new Error(`echo-server exited with ${code}`)));
  });
  return {
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}`,
    proc,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function waitFor(emitter, event, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out waiting for "${event}"`));
    }, timeoutMs);
    function handler(...args) {
      clearTimeout(timer);
      resolve(args.length <= 1 ? args[0] : args);
    }
    emitter.once(event, handler);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const hostBin = process.env.ROOMCAST_HOST_BIN || path.join(root, 'target/debug/realtime-host');

// Starts the scriptable RealtimeServer host. `send(op, fields)` resolves with the command's
// result; `events` collects every event line; `waitEvent(pred)` waits for a matching one.
export async function startHost(extraArgs = []) {
  const proc = spawn(hostBin, ['--port', '0', ...extraArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events = [];
  const waiters = [];
  const pending = new Map();
  let nextId = 1;
  let buffer = '';
  proc.stdout.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const msg = JSON.parse(line);
      if (msg.op && pending.has(msg.id)) {
        pending.get(msg.id)(msg.result);
        pending.delete(msg.id);
      } else if (msg.event) {
        events.push(msg);
        for (const w of [...waiters]) {
          if (w.pred(msg)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(msg);
          }
        }
      }
    }
  });
  const exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  const waitEvent = (pred, timeoutMs = 3000) =>
    new Promise((resolve, reject) => {
      const found = events.find(pred);
      if (found) return resolve(found);
      const w = { pred, resolve };
      waiters.push(w);
      setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) {
          waiters.splice(i, 1);
          reject(new Error('timed out waiting for host event'));
        }
      }, timeoutMs);
    });
  const listening = await waitEvent((e) => e.event === 'listening', 10_000);
  const send = (op, fields = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      proc.stdin.write(JSON.stringify({ op, id, ...fields }) + '\n');
    });
  return {
    port: listening.port,
    url: `http://127.0.0.1:${listening.port}`,
    proc,
    events,
    exited,
    send,
    waitEvent,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

// Collects every `event` the socket receives into an array.
export function collect(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args.length <= 1 ? args[0] : args));
  return got;
}

async function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
}

// Starts a real redis-server on a free port (no persistence); `stop()` kills it.
export async function startRedis(fixedPort, extraArgs = [], cwd = undefined) {
  const port = fixedPort || await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd,
  });
  await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('redis-server did not start')), 10_000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  // Keep draining its log so the pipe never fills.
  proc.stdout.resume();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

function redisCli(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args.join(' ')}: ${out}`))));
  });
}

// Runs one redis-cli command against 127.0.0.1:port and returns its output.
export const redisCommand = (port, ...args) => redisCli(['-p', String(port), ...args]);

// A real Redis Cluster of `masters` masters with `replicas` replicas each, on free ports (each
// port's cluster bus, port + 10000, free too), created with `redis-cli --cluster create`.
// `url` lists every node, comma-separated; `stop()` kills them all.
export async function startRedisCluster({ masters = 3, replicas = 1 } = {}) {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roomcast-redis-cluster-'));
  const ports = [];
  while (ports.length < masters * (1 + replicas)) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if (ports.includes(port) || ports.includes(port + 10000) || ports.includes(port - 10000)) continue;
    if (await portIsFree(port) && await portIsFree(port + 10000)) ports.push(port);
  }
  const nodes = [];
  for (const port of ports) {
    nodes.push(await startRedis(port, [
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0',
    ], dir));
  }
  await redisCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas', String(replicas), '--cluster-yes']);
  const deadline = Date.now() + 30_000;
  for (const port of ports) {
    while (!(await redisCommand(port, 'cluster', 'info')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('redis cluster did not become ready');
      await sleep(100);
    }
  }
  return {
    nodes,
    ports,
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    // The port of the master serving `key`'s slot now.
    async masterOf(key) {
      for (const port of ports) {
        const node = nodes.find((n) => n.port === port);
        if (node.proc.exitCode !== null || node.proc.signalCode !== null) continue;
        const slot = Number((await redisCommand(port, 'cluster', 'keyslot', key)).trim());
        // `cluster nodes`: id, ip:port@bus, flags, master, ping, pong, epoch, link, slots…
        for (const line of (await redisCommand(port, 'cluster', 'nodes')).trim().split('\n')) {
          const fields = line.trim().split(' ');
          if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
          const masterPort = Number(fields[1].split('@')[0].split(':')[1]);
          for (const range of fields.slice(8)) {
            const [start, end = start] = range.split('-').map(Number);
            if (start <= slot && slot <= end) return masterPort;
          }
        }
        return undefined;
      }
      return undefined;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Moves `socket`, connected through `lb`, to the node on `port`: new connections go there and the
// current one is cut. Resolves once the client saw the drop, with `back`, its reconnect.
export async function moveClient(lb, socket, port, timeoutMs) {
  lb.retarget(port);
  const back = waitFor(socket, 'connect', timeoutMs);
  const dropped = waitFor(socket, 'disconnect');
  lb.cut();
  await dropped;
  return { back };
}

// A TCP proxy standing in for the load balancer: it can cut every connection and point new
// ones at another node.
export async function proxy(targetPort) {
  let target = targetPort;
  const open = new Set();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(target, '127.0.0.1');
    open.add(downstream);
    open.add(upstream);
    const end = () => {
      downstream.destroy();
      upstream.destroy();
      open.delete(downstream);
      open.delete(upstream);
    };
    downstream.pipe(upstream).on('error', end);
    upstream.pipe(downstream).on('error', end);
    downstream.on('close', end);
    upstream.on('close', end);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    retarget: (port) => (target = port),
    cut: () => open.forEach((s) => s.destroy()),
    close: () => new Promise((r) => server.close(r)),
  };
}

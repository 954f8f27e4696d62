// Shared helpers for the node:test suites: start the echo server binary on a free port and wait
// for events with a deadline (a missing event fails the test instead of hanging it).
import { spawn } from 'node:child_process';
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

// Starts a real redis-server on a free port (no persistence); `stop()` kills it.
export async function startRedis(fixedPort) {
  const net = await import('node:net');
  const port = fixedPort || await new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
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
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

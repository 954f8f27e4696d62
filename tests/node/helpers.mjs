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

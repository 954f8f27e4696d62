// Where an idle client's memory goes on roomcast: the bench server built with its counting
// allocator reports live heap bytes and live blocks by size; this holds N idle, authenticated
// clients (the idle scenario's load generator) and prints, per client, the RSS growth, the live
// heap growth and the blocks that make it up. `--json` prints the figures as JSON.
//
//   cargo build --release -p loadgen && cargo build --release -p bench-server-roomcast \
//     --features count-heap --target-dir target/heap && node bench/scripts/idle-breakdown.mjs [clients]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as connectClient } from 'socket.io-client';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENTS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) || 10000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;

const server = spawn(path.join(root, 'target/heap/release/bench-server-roomcast'), ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/listening on (\d+)/);
    if (m) resolve(Number(m[1]));
  });
});

async function heap() {
  const socket = connectClient(`http://127.0.0.1:${port}`, { auth: { token: 'tstats' }, transports: ['websocket'], forceNew: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const [stats] = [await socket.timeout(5000).emitWithAck('stats')];
  socket.close();
  await sleep(200);
  return stats.heap;
}

// Warm up (runtime threads, the first connections' one-time allocations), then measure.
const warm = spawn(path.join(root, 'target/release/loadgen'), ['--port', String(port), '--clients', '200', '--scenario', 'idle', '--hold-ms', '500'], { stdio: 'ignore' });
await new Promise((r) => warm.on('exit', r));
await sleep(1000);
const before = await heap();
const rssBefore = rss(server.pid);
let during = null;
let rssDuring = 0;
const load = spawn(path.join(root, 'target/release/loadgen'), ['--port', String(port), '--clients', String(CLIENTS), '--scenario', 'idle', '--hold-ms', '9000'], { stdio: ['ignore', 'pipe', 'inherit'] });
let buffer = '';
load.stdout.on('data', async (d) => {
  buffer += d;
  if (!during && buffer.includes('"connected"')) {
    during = 'pending';
    await sleep(5000);
    rssDuring = rss(server.pid);
    during = await heap();
  }
});
await new Promise((r) => load.on('exit', r));
server.kill('SIGKILL');

const per = (a, b) => (a - b) / CLIENTS;
const base = new Map(before.blocks.map(([size, n]) => [size, n]));
const blocks = during.blocks
  .map(([size, n]) => ({ size, perClient: (n - (base.get(size) ?? 0)) / CLIENTS }))
  .filter((r) => Math.abs(r.perClient) >= 0.05)
  .sort((a, b) => b.size * b.perClient - a.size * a.perClient);
const result = { clients: CLIENTS, rssPerClient: per(rssDuring, rssBefore), heapPerClient: per(during.liveBytes, before.liveBytes), blocks };
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  console.log(`${CLIENTS} idle clients: RSS ${result.rssPerClient.toFixed(0)} B per client, live heap ${result.heapPerClient.toFixed(0)} B per client`);
  console.log('blocks per client (size class up to, blocks, bytes):');
  for (const r of blocks) console.log(`  ≤ ${String(r.size).padStart(5)} B  ${r.perClient.toFixed(2).padStart(6)}  ${(r.size * r.perClient).toFixed(0).padStart(6)}`);
}

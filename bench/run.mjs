// Runs the benchmark scenarios against every server in one invocation and writes BENCHMARKS.md
// (with a ratio chart, bench/ratios.svg). Loopback only, bounded in time (≈ 10 min at 10k).
//
//   cargo build --release -p loadgen -p bench-server-roomcast -p bench-server-socketioxide \
//     -p bench-blaster && cargo build --release -p bench-server-roomcast --features count-heap \
//     --target-dir target/heap && npm run build --workspace roomcast && node bench/run.mjs [clients]
//
// Servers (bench/servers/, the same behaviour each): roomcast (Rust API), the real Node
// socket.io 4.8 from npm, socketioxide 0.18 from crates.io; roomcast through the Node addon for
// the storm with the validator in JavaScript. Scenarios: idle memory per connected,
// authenticated client (at [clients] and at 19k); connection storm; fan-out (all clients in one
// room, 200 emits of ~100 B as fast as possible, in bursts of 16 and one at a time); paced (clients over 10 rooms, 20 emits/s for
// 10 s, latency against the schedule); recovery (paced for 15 s while 10% of the clients are cut
// every 2 s and reconnect with pid+offset), on one node and across two nodes behind Redis;
// permessage-deflate (a fan-out of 4 KiB JSON, off and on; `ONLY=deflate` runs it alone);
// cross-node delivery through Redis; three nodes on classic and sharded Redis (`ONLY=multinode`
// runs it alone); addon emit cost.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as connectClient } from 'socket.io-client';
import { startRedis, startRedisCluster } from '../tests/node/helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLIENTS = Number(process.argv[2] || 10000);
// A process may hold 20,000 descriptors here: 19k clients leave room for the rest.
const IDLE_MAX = Number(process.env.IDLE_MAX || 19000);
const loadgen = path.join(root, 'target/release/loadgen');
const release = (name) => path.join(root, 'target/release', name);
const servers = [
  { key: 'roomcast', name: 'roomcast', cmd: release('bench-server-roomcast'), args: [], recovery: true },
  { key: 'node', name: 'Node socket.io 4.8', cmd: process.execPath, args: [path.join(root, 'bench/servers/node-socketio.mjs')], recovery: true },
  // socketioxide 0.18 has no connection-state recovery.
  { key: 'socketioxide', name: 'socketioxide 0.18', cmd: release('bench-server-socketioxide'), args: [], recovery: false },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssBytes = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
// User and kernel CPU-seconds of a process so far.
const cpuSplit = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
};
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
};

function startServer(server, extra = []) {
  const proc = spawn(server.cmd, [...server.args, ...extra, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (\d+)/);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', (code) => reject(new Error(`${server.name} exited ${code}`)));
  });
}

async function stopServer(s) {
  s.proc.kill('SIGKILL');
  await sleep(500);
}

// Runs the load generator; `onConnected` runs when all clients are in (before the scenario).
function runLoad(port, args, onConnected) {
  return new Promise((resolve, reject) => {
    const proc = spawn(loadgen, ['--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    let done = null;
    const pending = [];
    proc.stdout.on('data', (d) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (line.phase === 'connected' && onConnected) pending.push(onConnected(line));
        if (line.phase === 'done') done = line;
      }
    });
    proc.on('exit', async () => {
      await Promise.all(pending);
      done ? resolve(done) : reject(new Error('loadgen failed'));
    });
  });
}

const PACED = ['--rooms', '10', '--scenario', 'paced', '--messages', '200', '--rate', '20', '--size', '100'];
const RECOVERY = ['--rooms', '10', '--scenario', 'recovery', '--messages', '300', '--rate', '20', '--size', '100',
  '--drop-every-ms', '2000', '--drop-percent', '10', '--away-ms', '500'];

async function idle(server, clients, deflate = false) {
  const s = await startServer(server, deflate ? ['--deflate'] : []);
  await sleep(300);
  const base = rssBytes(s.proc.pid);
  let result = null;
  // Read once the connections have settled (the same moment for every server).
  const offer = deflate ? ['--deflate'] : [];
  await runLoad(s.port, ['--clients', String(clients), '--scenario', 'idle', '--hold-ms', '7000', ...offer], async (line) => {
    await sleep(5000);
    result = { connected: line.connected, connectSeconds: line.seconds, bytesPerClient: (rssBytes(s.proc.pid) - base) / line.connected };
  });
  await stopServer(s);
  return result;
}

// Server CPU is read when every client is in: the handshakes, not the teardown after.
async function storm(server) {
  const s = await startServer(server);
  const cpuStart = cpuSeconds(s.proc.pid);
  let cpu = 0;
  const r = await runLoad(s.port, ['--clients', String(CLIENTS), '--scenario', 'idle', '--hold-ms', '500', '--wave', String(CLIENTS)], async () => {
    cpu = cpuSeconds(s.proc.pid) - cpuStart;
  });
  await stopServer(s);
  const perConnection = (seconds) => (seconds * 1e6) / Math.max(1, r.connected);
  return { ...r, serverCpuSeconds: cpu, cpuMicrosPerConnection: perConnection(cpu), loadgenCpuMicrosPerConnection: perConnection(r.loadgenCpuSecondsToConnect) };
}

async function bench(server) {
  const result = { name: server.name };
  console.error(`  idle ${CLIENTS}`);
  result.idle = await idle(server, CLIENTS);
  console.error(`  idle ${IDLE_MAX}`);
  result.idleMax = await idle(server, IDLE_MAX);
  console.error('  storm');
  result.storm = await storm(server);
  Object.assign(result, await fanouts(server));

  console.error('  paced');
  const s = await startServer(server);
  result.paced = await runLoad(s.port, ['--clients', String(CLIENTS), ...PACED]);
  await stopServer(s);

  if (server.recovery) {
    console.error('  recovery (one node)');
    const r = await startServer(server, ['--recovery']);
    result.recovery = await runLoad(r.port, ['--clients', String(CLIENTS), ...RECOVERY]);
    await stopServer(r);
  }
  return result;
}

// The fan-out twice: in bursts, and one emit at a time as a live feed emits.
async function fanouts(server) {
  const result = {};
  console.error('  fan-out');
  let s = await startServer(server);
  let cpuBefore = 0;
  const fan = await runLoad(s.port, ['--clients', String(CLIENTS), '--rooms', '10', '--scenario', 'fanout', '--messages', '200', '--size', '100'], async () => {
    cpuBefore = cpuSeconds(s.proc.pid);
  });
  const cpu = Math.max(0.01, cpuSeconds(s.proc.pid) - cpuBefore);
  result.fanout = { ...fan, serverCpuSeconds: cpu, deliveriesPerCpuSecond: fan.received / cpu };
  await stopServer(s);

  // The same fan-out as a live feed emits: one at a time, the runtime running in between.
  console.error('  fan-out, one emit at a time');
  s = await startServer(server);
  const each = await runLoad(s.port, ['--clients', String(CLIENTS), '--rooms', '10', '--scenario', 'fanout', '--messages', '200', '--size', '100', '--each'], async () => {
    cpuBefore = cpuSeconds(s.proc.pid);
  });
  const eachCpu = Math.max(0.01, cpuSeconds(s.proc.pid) - cpuBefore);
  result.fanoutEach = { ...each, serverCpuSeconds: eachCpu, deliveriesPerCpuSecond: each.received / eachCpu };
  await stopServer(s);
  return result;
}

// permessage-deflate: a fan-out of ~4 KiB JSON records (new values in every message, as a live
// feed's) to every client, with deflate off and on: server CPU per delivery and bytes on the
// wire per delivery (counted by the load generator, which offers the extension and inflates).
const DEFLATE_FAN = ['--scenario', 'fanout', '--messages', '20', '--size', '4096', '--json'];

async function deflateFanout(server, on) {
  const flag = on ? ['--deflate'] : [];
  const s = await startServer(server, flag);
  let cpuBefore = 0;
  const r = await runLoad(s.port, ['--clients', String(CLIENTS), ...DEFLATE_FAN, ...flag], async () => {
    cpuBefore = cpuSeconds(s.proc.pid);
  });
  const cpu = Math.max(0.01, cpuSeconds(s.proc.pid) - cpuBefore);
  await stopServer(s);
  const per = (n) => n / Math.max(1, r.received);
  return { received: r.received, expected: r.expected, serverCpuSeconds: cpu, cpuMicrosPerDelivery: per(cpu * 1e6), bytesPerDelivery: per(r.bytesReceived) };
}

async function deflate(server) {
  console.error(`== ${server.name}: permessage-deflate`);
  return { off: await deflateFanout(server, false), on: await deflateFanout(server, true), idle: await idle(server, CLIENTS, true) };
}

function deflateSection(d, idleOff) {
  const row = (label, f, digits) => `| ${label} | ${fmt(f(d.roomcast), digits)} | ${fmt(f(d.node), digits)} |`;
  return `## permessage-deflate: a fan-out of 4 KiB JSON

${CLIENTS} clients in one room, 20 emits of ~4 KiB of trade records (new values in every message),
deflate off and on (threshold 1024; the load generator offers \`permessage-deflate\` and inflates
what arrives). roomcast compresses each broadcast once, without context takeover, and shares the
bytes with every member; Node's \`ws\` compresses per connection, with context takeover.

| | roomcast | Node socket.io 4.8 |
|---|---:|---:|
${row('server CPU per delivery, deflate off (µs)', (r) => r?.off.cpuMicrosPerDelivery, 2)}
${row('server CPU per delivery, deflate on (µs)', (r) => r?.on.cpuMicrosPerDelivery, 2)}
${row('bytes on the wire per delivery, deflate off', (r) => r?.off.bytesPerDelivery, 0)}
${row('bytes on the wire per delivery, deflate on', (r) => r?.on.bytesPerDelivery, 0)}
${row('deliveries received, deflate on (of ' + (d.roomcast?.on.expected ?? '—') + ')', (r) => r?.on.received, 0)}
${row('idle memory per client, deflate on (KiB)', (r) => r && r.idle.bytesPerClient / 1024, 1)}
| idle memory per client, deflate off (KiB) | ${fmt(idleOff.roomcast, 1)} | ${fmt(idleOff.node, 1)} |
`;
}

// Two nodes of `server` on one Redis: `fn(a, b)` runs with both up.
async function twoNodes(server, extra, fn) {
  const redis = await startRedis();
  const flags = [...extra, '--redis', redis.url];
  const a = await startServer(server, flags);
  const b = await startServer(server, flags);
  await sleep(1000); // both subscribed
  try {
    return await fn(a, b);
  } finally {
    await stopServer(a);
    await stopServer(b);
    await redis.stop();
  }
}

// Cross-node delivery: the same paced run with the emitting client on the clients' node (local)
// and on the other node (every delivery crosses Redis), then a fan-out across nodes.
async function crossNode(server) {
  return twoNodes(server, [], async (a, b) => {
    const local = await runLoad(b.port, ['--clients', String(CLIENTS), ...PACED]);
    const cross = await runLoad(b.port, ['--clients', String(CLIENTS), '--control-port', String(a.port), ...PACED]);
    const cpuB = cpuSeconds(b.proc.pid);
    const fan = await runLoad(b.port, ['--clients', String(CLIENTS), '--control-port', String(a.port), '--scenario', 'fanout', '--messages', '200', '--size', '100']);
    const cpu = Math.max(0.01, cpuSeconds(b.proc.pid) - cpuB);
    return { local, cross, fanout: { ...fan, receivingNodeCpuSeconds: cpu } };
  });
}

// Recovery behind a load balancer: cut clients reconnect to the other node.
async function recoveryTwoNodes(server) {
  return twoNodes(server, ['--recovery'], (a, b) =>
    runLoad(b.port, ['--clients', String(CLIENTS), '--control-port', String(a.port), '--alt-port', String(a.port), ...RECOVERY]));
}

// ---- Multi-node: three nodes on Redis, classic pub/sub on one Redis or sharded on a Redis
// Cluster of three masters. Node A emits, paced, round-robin over room0..room9; node B's clients
// are in room0..4, node C's in room5..9. Reported: B's deliveries and latency (every delivery
// crossed Redis), Redis CPU per emitted message, and what B and C received for rooms they have
// no members in (in the dynamic mode: nothing).
const MULTI_CLIENTS = Math.min(CLIENTS, 2000);
const MULTI_MESSAGES = 2000;
const MULTI_RATE = 200;
const multiNodeSetups = [
  { label: 'roomcast, classic (one Redis)', server: servers[0], sharded: null },
  { label: 'roomcast, sharded static', server: servers[0], sharded: 'static' },
  { label: 'roomcast, sharded dynamic', server: servers[0], sharded: 'dynamic' },
  { label: 'Node socket.io, classic (one Redis)', server: servers[1], sharded: null },
  { label: 'Node socket.io, sharded dynamic', server: servers[1], sharded: 'dynamic' },
];

// A fast feed: 200 clients in one room, 2,000 emits/s one at a time for 5 s (each member
// receives a message every 0.5 ms), with roomcast's write coalescing at its default (1 ms),
// off, and at 5 ms, beside Node socket.io and socketioxide: server CPU per delivery, latency.
const FAST_FEED = ['--clients', '200', '--rooms', '1', '--scenario', 'paced', '--messages', '10000', '--rate', '2000', '--size', '100', '--each'];
async function fastFeed(server, extra = []) {
  const s = await startServer(server, extra);
  let cpuBefore = 0;
  const r = await runLoad(s.port, FAST_FEED, async () => {
    cpuBefore = cpuSeconds(s.proc.pid);
  });
  const cpu = Math.max(0.01, cpuSeconds(s.proc.pid) - cpuBefore);
  await stopServer(s);
  return { ...r, serverCpuSeconds: cpu, nanosPerDelivery: (cpu * 1e9) / Math.max(1, r.received) };
}

async function fastFeeds() {
  const runs = [];
  for (const [label, server, extra] of [
    ['roomcast, coalescing 1 ms (default)', servers[0], []],
    ['roomcast, coalescing off', servers[0], ['--write-coalesce', '0']],
    ['roomcast, coalescing 5 ms', servers[0], ['--write-coalesce', '5']],
    ['Node socket.io 4.8', servers[1], []],
    ['socketioxide 0.18', servers[2], []],
  ]) {
    console.error(`  fast feed: ${label}`);
    runs.push({ label, ...(await fastFeed(server, extra)) });
  }
  return runs;
}

function fastFeedSection(runs) {
  const node = runs.find((r) => r.label.startsWith('Node'));
  const line = (r) => `| ${r.label} | ${fmt(r.nanosPerDelivery)} | ${fmt(node.nanosPerDelivery / r.nanosPerDelivery, 1)}× | ${r.latencyVsDue.p50} / ${r.latencyVsDue.p99} | ${r.received}/${r.expected} |`;
  return `## A fast feed, one emit at a time: write coalescing

200 clients in one room, 2,000 emits/s for 5 s, each emit followed by a yield to the runtime
(\`--each\`), so every member gets a message every 0.5 ms. A roomcast connection that wrote less
than the coalescing window ago leaves new frames queued until the next tick (at most the window);
one that was quiet for the window writes at once, so low-rate feeds see no added latency.

| server | server CPU per delivery (ns) | vs Node | p50 / p99 vs schedule (ms) | delivered |
|---|---:|---:|---:|---:|
${runs.map(line).join('\n')}

`;
}

// Emit → the last member's frame written, measured inside roomcast (its per-size histogram,
// read through the bench server's `stats` ack): the paced run (20 emits/s, round-robin over 10
// rooms) with 10, 1,000 and 10,000 clients, so each emit reaches 1, 100 and 1,000 members.
// Node socket.io and socketioxide have no such measurement inside the server.
const WRITTEN_CLASS = { 1: '1', 100: '11-100', 1000: '101-1000' };
async function serverLatency(server) {
  const runs = [];
  for (const recipients of [1, 100, 1000]) {
    const s = await startServer(server);
    let before = null;
    const load = await runLoad(s.port, ['--clients', String(recipients * 10), ...PACED], async () => {
      before = cpuSplit(s.proc.pid);
    });
    const after = cpuSplit(s.proc.pid);
    const stats = await receivedBy(s.port);
    await stopServer(s);
    const written = stats.broadcastWritten.find((c) => c.recipients === WRITTEN_CLASS[recipients]);
    const perDelivery = (seconds) => (seconds * 1e6) / Math.max(1, load.received);
    runs.push({
      recipients, broadcasts: written.broadcasts, written: written.latency, client: load.latencyVsDue, received: load.received, expected: load.expected,
      userMicrosPerDelivery: perDelivery(after.user - before.user), sysMicrosPerDelivery: perDelivery(after.sys - before.sys),
    });
  }
  return runs;
}

function serverLatencySection(runs) {
  const ms = (v) => fmt(v, 3);
  const line = (r) => `| ${fmt(r.recipients)} | ${fmt(r.broadcasts)} | ${ms(r.written.p50Ms)} | ${ms(r.written.p99Ms)} | ${ms(r.written.maxMs)} | ${fmt(r.userMicrosPerDelivery, 1)} / ${fmt(r.sysMicrosPerDelivery, 1)} | ${r.client.p50} / ${r.client.p99} | ${r.received}/${r.expected} |`;
  return `## Inside the server: emit → last member written

roomcast times every broadcast from the emit call until the last recipient's frame was handed to
the kernel (\`roomcast_broadcast_written_seconds{recipients}\` in the metrics, \`broadcastLatency\`
in the stats). Paced emits, one at a time at 20/s round-robin over 10 rooms for 10 s, with 10,
1,000 and 10,000 clients (1, 100 and 1,000 members per emit). The client-side column is what the
load generator on the same cores saw against the schedule.

| members per emit | broadcasts timed | p50 (ms) | p99 (ms) | max (ms) | server CPU per delivery, user / kernel (µs) | client p50 / p99 (ms) | delivered |
|---:|---:|---:|---:|---:|---:|---:|---:|
${runs.map(line).join('\n')}

`;
}

async function redisBackend(sharded) {
  if (!sharded) {
    const redis = await startRedis();
    return { flags: ['--redis', redis.url], pids: [redis.proc.pid], stop: () => redis.stop() };
  }
  const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
  return { flags: ['--redis', cluster.url, '--redis-sharded', sharded], pids: cluster.nodes.map((n) => n.proc.pid), stop: () => cluster.stop() };
}

// What a node received from the others (its `stats` event).
async function receivedBy(port) {
  const socket = connectClient(`http://127.0.0.1:${port}`, { auth: { token: 'tstats' }, transports: ['websocket'], forceNew: true });
  try {
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
    return await socket.timeout(5000).emitWithAck('stats');
  } finally {
    socket.close();
  }
}

async function multiNode(setup) {
  const backend = await redisBackend(setup.sharded);
  const nodes = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startServer(setup.server, backend.flags));
    const [a, b, c] = nodes;
    await sleep(1500); // every node subscribed
    const seconds = MULTI_MESSAGES / MULTI_RATE;
    let cIn = null;
    const cConnected = new Promise((resolve) => { cIn = resolve; });
    const cLoad = runLoad(c.port, ['--clients', String(MULTI_CLIENTS), '--rooms', '5', '--room-offset', '5', '--scenario', 'idle', '--hold-ms', String((2 * seconds + 15) * 1000)], async () => cIn());
    await cConnected;
    await sleep(1000); // C's room channels subscribed
    const redisCpu = () => backend.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    // Redis spends CPU with nothing to carry too (its cron, the cluster bus): measured over the
    // same time with every client connected and nothing emitted, and taken off.
    const idleStart = redisCpu();
    await sleep(seconds * 1000);
    const redisIdleSeconds = redisCpu() - idleStart;
    const cpuStart = redisCpu();
    const bRun = await runLoad(b.port, ['--clients', String(MULTI_CLIENTS), '--rooms', '5', '--blast-rooms', '10', '--control-port', String(a.port),
      '--scenario', 'paced', '--messages', String(MULTI_MESSAGES), '--rate', String(MULTI_RATE), '--size', '100']);
    const redisCpuSeconds = Math.max(0, redisCpu() - cpuStart - redisIdleSeconds);
    const [bGot, cGot] = [await receivedBy(b.port), await receivedBy(c.port)];
    await cLoad;
    return { ...setup, server: setup.server.key, b: bRun, bReceived: bGot, cReceived: cGot, redisIdleSeconds, redisCpuSeconds, redisCpuMicrosPerMessage: (redisCpuSeconds * 1e6) / MULTI_MESSAGES };
  } finally {
    for (const n of nodes) await stopServer(n);
    await backend.stop();
  }
}

function multiNodeSection(runs) {
  const line = (r) => `| ${r.label} | ${fmt(r.b.deliveriesPerSecond)} | ${pct(r.b.deliveredShare)} | ${r.b.latencyVsDue.p50} / ${r.b.latencyVsDue.p99} | ${fmt(r.redisCpuMicrosPerMessage, 1)} | ${fmt(r.bReceived?.clusterIn)} / ${fmt(r.bReceived?.clusterUnmatched)} | ${fmt(r.cReceived?.clusterIn)} / ${fmt(r.cReceived?.clusterUnmatched)} |`;
  return `## Multi-node: three nodes on Redis, classic and sharded

Three nodes of one server on this machine: node A emits ${MULTI_MESSAGES} messages of 100 B at ${MULTI_RATE}/s (paced,
one emit at a time), round-robin over \`room0\`..\`room9\`; node B holds ${MULTI_CLIENTS} clients in \`room0\`..\`room4\`,
node C ${MULTI_CLIENTS} in \`room5\`..\`room9\`. So every delivery crosses Redis, and half of A's messages are for rooms
B has no members in (the other half for C). Classic: one redis-server, \`PUBLISH\`/\`PSUBSCRIBE\`. Sharded: a Redis
Cluster of three masters (\`SPUBLISH\`/\`SSUBSCRIBE\`, the ten room channels spread over its slots). "Received /
for no member": broadcasts the node got from the others, and those no local socket was a recipient of
(roomcast's \`roomcast_cluster_broadcasts_received_total\` / \`_unmatched_total\`; Node's counted on its sharded
adapter's messages, so — for its classic adapter). Redis CPU: all Redis processes, minus what they spent
over the same time with every client connected and nothing emitted.

| setup | B deliveries/s | B delivered | B p50 / p99 vs schedule (ms) | Redis CPU per message, net of idle (µs) | B received / for no member | C received / for no member |
|---|---:|---:|---:|---:|---:|---:|
${runs.map(line).join('\n')}

`;
}

async function addonStorm() {
  const server = { name: 'roomcast addon', cmd: process.execPath, args: [path.join(root, 'bench/servers/roomcast-addon.mjs')] };
  return storm(server);
}

// ns per call, parsed from bench/scripts/addon-emit.mjs.
// Where an idle client's bytes go (roomcast's bench server built with a counting allocator).
function idleBreakdown() {
  const out = spawnSync(process.execPath, [path.join(root, 'bench/scripts/idle-breakdown.mjs'), String(CLIENTS), '--json'], { encoding: 'utf8' });
  const line = out.stdout.trim().split('\n').pop();
  return line ? JSON.parse(line) : null;
}

// What each size class of block an idle client holds is, attributed with heaptrack (allocation
// sites of the bench server holding 10k idle clients) for this version.
const BLOCK_OWNERS = {
  256: 'four records of 256 B: the connection\'s tokio task (the driven WebSocket: socket, codec state, session pointer, the writer\'s batch); the Engine.IO session (inline id, handshake address, outbound queue, heartbeat); the Socket.IO socket (inline ids and identity, auth, rooms, one slot for acks, data and middlewares); tokio\'s I/O registration of the TCP socket',
  96: 'the Socket.IO client (the session\'s namespace sockets, in place); the auth payload text (`socket.handshake.auth`)',
  64: 'the socket\'s list of rooms',
  48: 'the handshake\'s query and kept headers, in one block',
  32: 'the user room\'s name (shared by the room index and the socket\'s list)',
};

function idleBreakdownSection(b) {
  if (!b) return '';
  const rows = b.blocks.map((r) => `| ≤ ${fmt(r.size)} | ${fmt(r.perClient, 2)} | ${fmt(r.size * r.perClient)} | ${BLOCK_OWNERS[r.size] ?? 'other'} |`);
  return `## Where an idle client's memory goes

\`node bench/scripts/idle-breakdown.mjs ${b.clients}\` (the bench server built with
\`--features count-heap\`, a counting allocator): ${fmt(b.clients)} idle, authenticated WebSocket
clients, each in its user room, one of 10 rooms and \`all\`. Per client: RSS ${fmt(b.rssPerClient)} B,
live heap ${fmt(b.heapPerClient)} B (the rest is the allocator's headers and free space). Live
blocks per client by size class (block sizes rounded up to 16 B):

| block size (B) | blocks | bytes | what it is |
|---:|---:|---:|---|
${rows.join('\n')}

Kernel socket buffers are not in the RSS. What is not here any more: no WebSocket buffers
between messages (the engine's own codec reads the socket on the stack and keeps only a frame
that arrived in part; its write buffer goes once flushed), no timer per connection (one
heartbeat sweep per server), nothing of the handshake but what the socket API exposes (its query
and headers in one block), no heap block for an id, a user id or name of up to 24 bytes (held in
place), one copy of each shared room name and role, and no free memory a connect storm left
behind (returned to the system once the wave settles, \`EngineConfig::release_memory_after\`).

`;
}

function addonEmit() {
  const run = spawnSync(process.execPath, [path.join(root, 'bench/scripts/addon-emit.mjs')], { encoding: 'utf8' });
  const figures = {};
  for (const line of run.stdout.split('\n')) {
    const m = line.match(/^(.+?)\s+(\d+) ns\/(call|item)$/);
    if (m) figures[m[1].trim()] = Number(m[2]);
  }
  return { output: run.stdout.trim(), figures };
}

// The JS handler path (client event → JS handler → ack) on socket.io's Server and roomcast's.
function jsHandler() {
  const run = spawnSync(process.execPath, [path.join(root, 'bench/scripts/js-handler.mjs')], { encoding: 'utf8' });
  return run.stdout.trim();
}

// The load generator's own ceiling: fan-out against a server that does no work at all.
async function ceiling() {
  const s = await startServer({ name: 'blaster', cmd: release('bench-blaster'), args: [] });
  const r = await runLoad(s.port, ['--clients', String(CLIENTS), '--scenario', 'fanout', '--messages', '200', '--size', '100']);
  await stopServer(s);
  return r;
}

const fmt = (n, d = 0) => (n === undefined || n === null || Number.isNaN(n) ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const deflateServers = servers.filter((s) => s.key !== 'socketioxide');
const pct = (share) => (share === undefined ? '—' : `${fmt(share * 100, 2)} %`);

// `ONLY=multinode node bench/run.mjs [clients]`: the multi-node comparison alone, printed.
if (process.env.ONLY === 'multinode') {
  const runs = [];
  for (const setup of multiNodeSetups) {
    console.error(`== ${setup.label}`);
    runs.push(await multiNode(setup));
  }
  console.log(multiNodeSection(runs));
  console.log(JSON.stringify(runs, null, 2));
  process.exit(0);
}

// `ONLY=fanout node bench/run.mjs [clients]`: both fan-outs on every server, printed.
if (process.env.ONLY === 'fanout') {
  for (const server of servers) {
    const r = await fanouts(server);
    console.log(`${server.name}: bursts ${fmt(r.fanout.deliveriesPerCpuSecond)}, one at a time ${fmt(r.fanoutEach.deliveriesPerCpuSecond)} deliveries per server CPU-s (${r.fanoutEach.received}/${r.fanoutEach.expected})`);
  }
  process.exit(0);
}

// `ONLY=feed node bench/run.mjs`: the fast feed alone, printed.
if (process.env.ONLY === 'feed') {
  console.log(fastFeedSection(await fastFeeds()));
  process.exit(0);
}

// `ONLY=memory node bench/run.mjs [clients]`: the idle breakdown alone, printed.
if (process.env.ONLY === 'memory') {
  console.log(idleBreakdownSection(idleBreakdown()));
  process.exit(0);
}

// `ONLY=latency node bench/run.mjs`: the inside-the-server latency alone, printed.
if (process.env.ONLY === 'latency') {
  const runs = await serverLatency(servers[0]);
  console.log(serverLatencySection(runs));
  console.log(JSON.stringify(runs, null, 2));
  process.exit(0);
}

// `ONLY=deflate node bench/run.mjs [clients]`: the permessage-deflate comparison alone, printed
// (BENCHMARKS.md is left as it is).
if (process.env.ONLY === 'deflate') {
  const d = {};
  const idleOff = {};
  for (const server of deflateServers) {
    d[server.key] = await deflate(server);
    idleOff[server.key] = (await idle(server, CLIENTS)).bytesPerClient / 1024;
  }
  console.log(deflateSection(d, idleOff));
  console.log(JSON.stringify(d, null, 2));
  process.exit(0);
}

const started = Date.now();
console.error('== load generator ceiling (bench-blaster)');
const loadgenCeiling = await ceiling();
const results = {};
for (const server of servers) {
  console.error(`== ${server.name}`);
  results[server.key] = await bench(server);
}
console.error('== roomcast addon: storm with the validator in Node');
const addon = { storm: await addonStorm() };
console.error('== roomcast: emit → last member written, inside the server');
const written = await serverLatency(servers[0]);
console.error('== a fast feed: write coalescing');
const feed = await fastFeeds();
console.error('== roomcast: where an idle client\'s memory goes');
const breakdown = idleBreakdown();
console.error('== roomcast addon: emit cost');
addon.emit = addonEmit();
addon.jsHandler = jsHandler();
const deflateResults = {};
for (const server of deflateServers) deflateResults[server.key] = await deflate(server);
const cluster = {};
for (const server of servers.filter((s) => s.key !== 'socketioxide')) {
  console.error(`== ${server.name}: two nodes on Redis`);
  cluster[server.key] = { crossNode: await crossNode(server), recovery: await recoveryTwoNodes(server) };
}
const multiNodeRuns = [];
for (const setup of multiNodeSetups) {
  console.error(`== multi-node: ${setup.label}`);
  multiNodeRuns.push(await multiNode(setup));
}
const minutes = (Date.now() - started) / 60000;

// ---- report ----
const { roomcast: rc, node, socketioxide: sx } = results;
const rows = [
  [`idle memory per client at ${CLIENTS / 1000}k (KiB)`, (r) => r.idle.bytesPerClient / 1024, 1, 'lower'],
  [`idle memory per client at ${IDLE_MAX / 1000}k (KiB)`, (r) => r.idleMax.bytesPerClient / 1024, 1, 'lower'],
  ['fan-out deliveries/s', (r) => r.fanout.deliveriesPerSecond, 0, 'higher'],
  ['fan-out deliveries per server CPU-s', (r) => r.fanout.deliveriesPerCpuSecond, 0, 'higher'],
  ['fan-out one emit at a time: deliveries per server CPU-s', (r) => r.fanoutEach.deliveriesPerCpuSecond, 0, 'higher'],
  ['fan-out trigger → last delivery (ms)', (r) => r.fanout.triggerToLastMs, 0, 'lower'],
  ['paced p50 vs schedule (ms)', (r) => r.paced.latencyVsDue.p50, 0, 'lower'],
  ['paced p99 vs schedule (ms)', (r) => r.paced.latencyVsDue.p99, 0, 'lower'],
  ['paced max vs schedule (ms)', (r) => r.paced.latencyVsDue.max, 0, 'lower'],
  ['storm handshakes/s (validator in Rust / in Node)', (r) => r.storm.handshakesPerSecond, 0, 'higher'],
  ['storm server CPU per connection (µs)', (r) => r.storm.cpuMicrosPerConnection, 0, 'lower'],
];
const table = rows.map(([label, get, d, better]) => {
  const [a, b, c] = [get(rc), get(node), get(sx)];
  const adv = (x) => (better === 'higher' ? a / x : x / Math.max(a, 1e-9));
  return { label, values: [fmt(a, d), fmt(b, d), fmt(c, d)], vsNode: adv(b), vsSx: adv(c) };
});

const width = 760;
const bar = 12;
const rowH = 2 * bar + 12;
const max = Math.max(...table.flatMap((t) => [t.vsNode, t.vsSx]).map((v) => Math.log10(Math.max(v, 1))), 0.01);
const barOf = (v, y, color) => {
  const w = Math.max(2, (Math.log10(Math.max(v, 1)) / max) * 300);
  return `<rect x="330" y="${y}" width="${w}" height="${bar}" fill="${color}"/><text x="${336 + w}" y="${y + 10}">${fmt(v, 1)}×</text>`;
};
const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${table.length * rowH + 60}" font-family="sans-serif" font-size="12">`,
  `<text x="10" y="20" font-size="14">roomcast advantage (× better, log scale) over <tspan fill="#2f7ed8">Node socket.io 4.8</tspan> and <tspan fill="#e07b39">socketioxide 0.18</tspan></text>`,
  ...table.map((t, i) => {
    const y = 36 + i * rowH;
    return `<text x="10" y="${y + 16}">${t.label}</text>${barOf(t.vsNode, y, '#2f7ed8')}${barOf(t.vsSx, y + bar + 2, '#e07b39')}`;
  }),
  '</svg>'].join('\n');
writeFileSync(path.join(root, 'bench/ratios.svg'), svg);

const version = (pkg) => JSON.parse(readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const lock = readFileSync(path.join(root, 'Cargo.lock'), 'utf8');
const crate = (name) => lock.match(new RegExp(`name = "${name}"\\nversion = "([^"]+)"`))?.[1];
const cpuModel = os.cpus()[0]?.model ?? 'unknown';
const rec = (r) => (r ? `${pct(r.deliveredShare)} (${fmt(r.received)}/${fmt(r.expected)}; ${r.recovered}/${r.reconnects} recovered, ${r.duplicates} duplicates)` : '—');
const cn = (k) => cluster[k]?.crossNode;
const emitFig = addon.emit.figures;
const perCall = emitFig['native emitToRoom(JSON string), 1 recipient'];
const perItem = emitFig['native emitBatch(20 items, one string)'] / 20;
const loadgenMsgMicros = (rc.paced.loadgenCpuSecondsAfterConnect * 1e6) / Math.max(1, rc.paced.received);
const written1000 = written.find((r) => r.recipients === 1000);
const targetRows = [
  ['idle memory per client (10k)', '≤ 2 KiB', `${fmt(rc.idle.bytesPerClient / 1024, 1)} KiB`, rc.idle.bytesPerClient <= 2048, `At 19k: ${fmt(rc.idleMax.bytesPerClient / 1024, 1)} KiB. Live heap ${fmt(breakdown?.heapPerClient)} B per client (see "Where an idle client's memory goes"): four records of 256 B (the connection's task, the session, the socket, tokio's I/O registration) and five small blocks; ids and identity strings are inline, the WebSocket codec holds no buffers while idle, and freed handshake memory goes back to the system once a connect wave settles. The rest is the allocator's headers and the free space between live blocks.`],
  ['fan-out deliveries per server CPU-s', '≥ 1,000k', fmt(rc.fanout.deliveriesPerCpuSecond), rc.fanout.deliveriesPerCpuSecond >= 1e6, 'Kernel loopback send dominates the server profile.'],
  ['fan-out one emit at a time, deliveries per server CPU-s', '≥ 1,500k', fmt(rc.fanoutEach.deliveriesPerCpuSecond), rc.fanoutEach.deliveriesPerCpuSecond >= 1.5e6,
    'Each emit is followed by a yield to the runtime (the blast handler awaits `yield_now` between emits). A member\'s writer drains everything queued into one write, and one that wrote less than 1 ms ago waits for the next tick (write coalescing, see "A fast feed"), so consecutive emits share writes.'],
  ['emit → last member written, 1,000 members at 20/s, p99', '≤ 1 ms', `${fmt(written1000.written.p99Ms, 3)} ms`, written1000.written.p99Ms <= 1,
    `Kernel-bound here: every member's frame is a send of its own on loopback, and in the 1,000-member run the server spent ${fmt(written1000.sysMicrosPerDelivery, 1)} µs of kernel and ${fmt(written1000.userMicrosPerDelivery, 1)} µs of user CPU per delivery (the receiver's TCP processing is charged to the sender on loopback), so one emit costs ≈ ${fmt((written1000.sysMicrosPerDelivery + written1000.userMicrosPerDelivery), 1)} ms of CPU, ≥ ${fmt((written1000.sysMicrosPerDelivery + written1000.userMicrosPerDelivery) / 2, 1)} ms even spread over both cores, which the load generator reading the same 1,000 messages shares. At 100 members the p99 is ${fmt(written.find((r) => r.recipients === 100).written.p99Ms, 2)} ms (see "Inside the server").`],
  ['paced p99 vs schedule', '< 5 ms', `${rc.paced.latencyVsDue.p99} ms`, rc.paced.latencyVsDue.p99 < 5,
    `Each emit reaches 1,000 clients; the load generator spends ${fmt(loadgenMsgMicros, 1)} µs of CPU per received message on the same 2 cores, so one burst costs it ≈ ${fmt(loadgenMsgMicros, 1)} ms of CPU (≥ ${fmt(loadgenMsgMicros / 2, 1)} ms even spread over both cores), and server and load generator threads share the cores in scheduler slices. All three servers sit on the same floor (p50 ${rc.paced.latencyVsDue.p50} / ${node.paced.latencyVsDue.p50} / ${sx.paced.latencyVsDue.p50} ms).`],
  ['storm handshakes/s (Rust validator)', '≥ 15k', fmt(rc.storm.handshakesPerSecond), rc.storm.handshakesPerSecond >= 15000,
    `Server ${fmt(rc.storm.cpuMicrosPerConnection)} µs + load generator ${fmt(rc.storm.loadgenCpuMicrosPerConnection)} µs of CPU per connection on 2 shared cores caps it at ≈ ${fmt(2e6 / (rc.storm.cpuMicrosPerConnection + rc.storm.loadgenCpuMicrosPerConnection))}/s; most of both is kernel TCP (connect/accept/close, loopback softirq).`],
  ['storm server CPU per connection', '≤ 50 µs', `${fmt(rc.storm.cpuMicrosPerConnection)} µs`, rc.storm.cpuMicrosPerConnection <= 50,
    'WebSocket connect, Engine.IO open, Socket.IO CONNECT with the Rust validator, three room joins; kernel TCP work included.'],
  ['storm handshakes/s (Node validator, addon)', '≥ 8k', fmt(addon.storm.handshakesPerSecond), addon.storm.handshakesPerSecond >= 8000,
    `${fmt(addon.storm.cpuMicrosPerConnection)} µs server CPU per connection (the JS validator call and its promise on the Node thread included).`],
  ['addon emit call', '< 1 µs', `${fmt(perCall)} ns single, ${fmt(perItem)} ns per batched item`, perCall < 1000,
    'Single emits are plain Node-API callbacks (a napi-rs `#[napi]` function costs ≈ 0.26 µs per call plus ≈ 0.13 µs per string argument here); what remains is V8 copying the payload out as UTF-8, encoding once, the queue push and waking the writer. A batch sends one string for many emits.'],
];
const md = `# Benchmarks

Generated by \`node bench/run.mjs ${CLIENTS}\` on ${new Date().toISOString().slice(0, 10)} in ${fmt(minutes, 1)} min:
${os.cpus().length} cores (${cpuModel}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}.
Versions: roomcast ${crate('roomcast-core')}, Node socket.io ${version('socket.io')} (@socket.io/redis-adapter ${version('@socket.io/redis-adapter')}),
socketioxide ${crate('socketioxide')}, tokio ${crate('tokio')}, tokio-tungstenite ${crate('tokio-tungstenite')}, redis-server ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1]}.

Reproduce: \`cargo build --release -p loadgen -p bench-server-roomcast -p bench-server-socketioxide -p bench-blaster && cargo build --release -p bench-server-roomcast --features count-heap --target-dir target/heap && npm run build --workspace roomcast && node bench/run.mjs ${CLIENTS}\`.

Every server runs the same behaviour (bench/servers/: token auth in the connect payload, rooms
\`user:<id>\` + one of 10 rooms + \`all\`, a \`blast\` event that emits N events of a given size at a
given rate stamped with \`ts\` and \`due\`), driven by the same Rust load generator (bench/loadgen)
in the same run. **Caveat:** the load generator shares the 2 cores with the server, so wall-clock
rates are bounded by both; server CPU-seconds are reported beside them for that reason.

![ratios](bench/ratios.svg)

| metric (${CLIENTS} clients unless said) | roomcast | Node socket.io 4.8 | socketioxide 0.18 | vs Node | vs socketioxide |
|---|---:|---:|---:|---:|---:|
${table.map((t) => `| ${t.label} | ${t.values.join(' | ')} | ${fmt(t.vsNode, 1)}× | ${fmt(t.vsSx, 1)}× |`).join('\n')}

Idle runs connected ${rc.idleMax.connected}, ${node.idleMax.connected} and ${sx.idleMax.connected} of ${IDLE_MAX} clients.

Storm ceiling: the load generator itself spent ${fmt(rc.storm.loadgenCpuMicrosPerConnection)} µs of CPU per connection in the
roomcast storm (client handshakes, on the same 2 cores), so handshakes/s here cannot exceed
2 cores / (server + load generator CPU per connection) ≈ ${fmt(2e6 / (rc.storm.cpuMicrosPerConnection + rc.storm.loadgenCpuMicrosPerConnection))}/s for roomcast, whatever the server does.
On loopback the sender's CPU also pays for the receiver's TCP processing (softirq), so both
figures include kernel network work for the other side.

## Targets (this 2-core machine)

| target | goal | measured | met | what limits it |
|---|---|---|---|---|
${targetRows.map(([name, goal, got, met, why]) => `| ${name} | ${goal} | ${got} | ${met ? 'yes' : '**no**'} | ${why} |`).join('\n')}

## Connection storm with the validator in JavaScript (the addon)

\`bench/servers/roomcast-addon.mjs\`: ${fmt(addon.storm.handshakesPerSecond)} handshakes/s,
${fmt(addon.storm.cpuMicrosPerConnection)} µs server CPU per connection (${addon.storm.connected}/${CLIENTS} connected).

## Addon emit cost (\`node bench/scripts/addon-emit.mjs\`)

\`\`\`
${addon.emit.output}
\`\`\`

## The JS handler path (\`node bench/scripts/js-handler.mjs\`)

A client event crosses into a JavaScript handler on the \`Server\` API and is acked, on
socket.io's \`Server\` and on roomcast's in one run (clients: the official socket.io-client in a
child process on the same cores). "Node thread" is event-loop utilisation × wall time.

\`\`\`
${addon.jsHandler}
\`\`\`

${deflateSection(deflateResults, { roomcast: rc.idle.bytesPerClient / 1024, node: node.idle.bytesPerClient / 1024 })}
## No missed trades: recovery while 10% of the clients are cut every 2 s

Paced load (300 emits at 20/s over 10 rooms); every 2 s a different 10% of the clients loses its
TCP connection and reconnects 500 ms later with its \`pid\` and last offset. Share of the scheduled
messages delivered (each counted once), recovered reconnects, duplicates:

| setup | roomcast | Node socket.io 4.8 |
|---|---|---|
| one node | ${rec(rc.recovery)} | ${rec(node.recovery)} |
| two nodes on Redis, reconnecting to the other node | ${rec(cluster.roomcast?.recovery)} | ${rec(cluster.node?.recovery)} |

Node's classic Redis adapter has no recovery across nodes; roomcast keeps saved sessions in Redis
and logs every broadcast under its origin's offset on every node. Latency in these runs includes
the replayed messages (they arrive when the client is back): roomcast one node p99
${rc.recovery?.latencyVsDue.p99} ms vs schedule.

## Two nodes on Redis: cross-node delivery

Paced (20 emits/s over 10 rooms, ${CLIENTS} clients on node B) with the emitting client on node B
(local) and on node A (every delivery crosses Redis); then a fan-out triggered on node A.

| | roomcast | Node socket.io 4.8 |
|---|---:|---:|
| paced p50 / p99 vs schedule, local (ms) | ${cn('roomcast')?.local.latencyVsDue.p50} / ${cn('roomcast')?.local.latencyVsDue.p99} | ${cn('node')?.local.latencyVsDue.p50} / ${cn('node')?.local.latencyVsDue.p99} |
| paced p50 / p99 vs schedule, cross-node (ms) | ${cn('roomcast')?.cross.latencyVsDue.p50} / ${cn('roomcast')?.cross.latencyVsDue.p99} | ${cn('node')?.cross.latencyVsDue.p50} / ${cn('node')?.cross.latencyVsDue.p99} |
| cross-node fan-out deliveries/s | ${fmt(cn('roomcast')?.fanout.deliveriesPerSecond)} | ${fmt(cn('node')?.fanout.deliveriesPerSecond)} |
| cross-node fan-out: receiving node CPU-s | ${fmt(cn('roomcast')?.fanout.receivingNodeCpuSeconds, 2)} | ${fmt(cn('node')?.fanout.receivingNodeCpuSeconds, 2)} |

${multiNodeSection(multiNodeRuns)}${fastFeedSection(feed)}${serverLatencySection(written)}${idleBreakdownSection(breakdown)}## Load generator ceiling

Against \`bench-blaster\` (pre-encoded frames, no rooms or queues) the same fan-out reached
${fmt(loadgenCeiling.deliveriesPerSecond)} deliveries/s: wall-clock fan-out rates above are bounded by that
on this machine.

Details: fan-out received ${rc.fanout.received}/${rc.fanout.expected} (roomcast), ${node.fanout.received}/${node.fanout.expected} (Node),
${sx.fanout.received}/${sx.fanout.expected} (socketioxide); paced ${rc.paced.received}/${rc.paced.expected}, ${node.paced.received}/${node.paced.expected},
${sx.paced.received}/${sx.paced.expected}. Paced latency against the send stamp (p99): roomcast ${rc.paced.latencyVsTs.p99} ms,
Node ${node.paced.latencyVsTs.p99} ms, socketioxide ${sx.paced.latencyVsTs.p99} ms.

Raw results:

\`\`\`json
${JSON.stringify({ results, written, breakdown, feed, addon: { storm: addon.storm, emit: addon.emit.figures }, deflate: deflateResults, cluster, multiNode: multiNodeRuns, loadgenCeiling }, null, 2)}
\`\`\`
`;
writeFileSync(path.join(root, 'BENCHMARKS.md'), md);
console.log(md);

// Connection-state recovery with the unmodified socket.io-client: a client whose transport
// drops gets, on reconnect within the window, its socket id, rooms and every trade it missed, in
// order and once, with `recovered === true`; outside the window, past the packet bound, or after
// a logout it starts fresh (or is refused) instead.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startHost, startRedis, startRedisCluster, waitFor, sleep, proxy, moveClient, redisCommand } from './helpers.mjs';

const clients = [];
const hosts = [];
after(async () => {
  for (const c of clients) c.close();
  for (const h of hosts) await h.stop();
});

async function host(args) {
  const h = await startHost(['--ping-interval', '1000', '--ping-timeout', '1000', ...args]);
  hosts.push(h);
  await h.send('session', { sessionID: 'sa', userId: 'ua' });
  return h;
}

function client(h) {
  const socket = io(h.url, {
    auth: { sessionID: 'sa', userId: 'ua' },
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    forceNew: true,
  });
  clients.push(socket);
  return socket;
}

// Trades as the client's handlers see them (the last argument of a recovered-capable broadcast
// is its offset, which socket.io-client records).
function trades(socket) {
  const got = [];
  socket.on('trade:executed', (trade) => got.push(trade.n));
  return got;
}

// Drops the transport under the client (as a network cut would) and waits for the drop.
async function cut(socket) {
  const dropped = waitFor(socket, 'disconnect');
  socket.io.engine.close();
  await dropped;
}

test('a dropped client recovers its id, rooms and every missed trade, once and in order', async () => {
  const h = await host(['--recovery-ms', '5000']);
  const s = client(h);
  await waitFor(s, 'connected');
  await s.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['AAPL'] });
  const got = trades(s);
  await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: 0 } });
  await sleep(100);
  const id = s.id;
  const reconnected = waitFor(s, 'connect', 5000);
  s.io.reconnectionDelay(500).reconnectionDelayMax(500); // stay away long enough to miss trades
  await cut(s);
  for (let n = 1; n <= 5; n++) await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n } });
  await reconnected;
  assert.equal(s.recovered, true);
  assert.equal(s.id, id);
  await sleep(200);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  // Rooms came back: the watchlist still reaches it.
  assert.equal(await h.send('emitToRoom', { room: 'watchlist:AAPL', event: 'quote:update', data: 1 }), 1);
  const stats = await h.send('stats');
  assert.equal(stats.recovered, 1);
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 1, 'subscription counted again');
});

test('outside the window, or past the packet bound, the client starts fresh', async () => {
  const h = await host(['--recovery-ms', '300', '--recovery-packets', '3']);
  const late = client(h);
  await waitFor(late, 'connected');
  await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: 0 } });
  await sleep(50);
  late.io.reconnectionDelay(800).reconnectionDelayMax(800).randomizationFactor(0);
  const back = waitFor(late, 'connect', 5000);
  await cut(late);
  await back;
  assert.equal(late.recovered, false);

  const flooded = client(h);
  await waitFor(flooded, 'connected');
  await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: 0 } });
  await sleep(50);
  flooded.io.reconnectionDelay(300).reconnectionDelayMax(300).randomizationFactor(0);
  const again = waitFor(flooded, 'connect', 5000);
  await cut(flooded);
  for (let n = 1; n <= 6; n++) await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n } });
  await again;
  assert.equal(flooded.recovered, false, 'the missed trades exceeded the bound');
  const stats = await h.send('stats');
  assert.ok(stats.notRecovered >= 2);
});

test('past the byte bound of the replay log, the client starts fresh', async () => {
  const h = await host(['--recovery-ms', '5000', '--recovery-bytes', '2000']);
  const s = client(h);
  await waitFor(s, 'connected');
  await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: 0 } });
  await sleep(50);
  s.io.reconnectionDelay(300).reconnectionDelayMax(300).randomizationFactor(0);
  const back = waitFor(s, 'connect', 5000);
  await cut(s);
  // Three 1 KB trades push the client's offset out of a 2,000-byte log.
  const pad = 'x'.repeat(1000);
  for (let n = 1; n <= 3; n++) await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n, pad } });
  await back;
  assert.equal(s.recovered, false);
  assert.equal((await h.send('stats')).notRecovered, 1);
});

test('a session logged out meanwhile does not recover', async () => {
  const h = await host(['--recovery-ms', '5000']);
  const s = client(h);
  await waitFor(s, 'connected');
  s.io.reconnectionDelay(300).reconnectionDelayMax(300).randomizationFactor(0);
  const refused = waitFor(s, 'connect_error', 5000);
  await cut(s);
  await h.send('logout', { sessionID: 'sa' });
  assert.equal((await refused).message, 'UNAUTHORIZED: Invalid session or user mismatch');
  assert.equal((await h.send('stats')).recovered, 0);
  s.close();
});

// One body, four backends: classic pub/sub on one redis-server, and sharded pub/sub on a Redis
// Cluster (three masters, one replica each) in each subscription mode. Classic and static: the
// new node saw the broadcasts the client missed. Dynamic: it had no members in the client's
// rooms, so it saw none of them; it follows the rooms, asks the node the client dropped from
// for what it logged, and adds what it logged itself from then on.
const BACKENDS = {
  'one Redis, classic pub/sub': async () => {
    const redis = await startRedis();
    return { flags: ['--redis', redis.url], stop: () => redis.stop() };
  },
  'a Redis Cluster, sharded pub/sub': async () => {
    const cluster = await startRedisCluster();
    return { flags: ['--redis', cluster.url, '--redis-sharded', 'static'], stop: () => cluster.stop() };
  },
  'a Redis Cluster, sharded pub/sub in dynamic mode': async () => {
    const cluster = await startRedisCluster();
    return { flags: ['--redis', cluster.url, '--redis-sharded', 'dynamic'], stop: () => cluster.stop() };
  },
  'a Redis Cluster, sharded pub/sub in dynamic-private mode': async () => {
    const cluster = await startRedisCluster();
    return { flags: ['--redis', cluster.url, '--redis-sharded', 'dynamic-private'], stop: () => cluster.stop() };
  },
};

for (const [backendName, startBackend] of Object.entries(BACKENDS)) {
  test(`across ${backendName}: the client reconnects to the other node and still recovers`, async () => {
    await recoversOnTheOtherNode(await startBackend());
  });
}

// A client that comes back 400 ms after a drop.
const RECONNECTING = {
  auth: { sessionID: 'sa', userId: 'ua' },
  transports: ['websocket'],
  reconnectionDelay: 400,
  reconnectionDelayMax: 400,
  randomizationFactor: 0,
  forceNew: true,
};

// `count` nodes with `flags`, connected to Redis, and a client behind a proxy pointing at the
// first, connected and collecting trades.
async function clientBehindProxy(flags, count, options = RECONNECTING) {
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push(await host(flags));
  for (const n of nodes) {
    while (!(await n.send('stats')).redisAdapter) await sleep(50);
  }
  const lb = await proxy(nodes[0].port);
  const s = io(lb.url, options);
  clients.push(s);
  await waitFor(s, 'connected');
  return { nodes, lb, s, got: trades(s) };
}

// One client on n1 behind a proxy, a trade, then its connection cut and the proxy retargeted
// to n2; three trades are emitted on n1 while it is away. Resolves once it is back (on n2).
// `stay`: the proxy keeps pointing at n1 and the trades are emitted on n2 instead; `lastToAll`:
// the client's last packet before the cut is a broadcast to everyone, not to its rooms.
async function movedToTheOtherNode(backend, { stay = false, lastToAll = false } = {}) {
  const flags = [...backend.flags, '--recovery-ms', '5000'];
  const { nodes: [n1, n2], lb, s, got } = await clientBehindProxy(flags, 2);
  await s.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['TSLA'] });
  await n1.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: 0 } });
  if (lastToAll) await n1.send('emitToAll', { event: 'notice', data: 'all' });
  await sleep(150);
  const id = s.id;

  const { back } = await moveClient(lb, s, stay ? n1.port : n2.port, 5000);
  const emitter = stay ? n2 : n1;
  for (let n = 1; n <= 3; n++) await emitter.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n } });
  await back;
  return { s, got, id, n1, n2, lb };
}

// The client comes back (to n2, or to n1 with `stay`) with its id, every missed trade once and
// in order, and its rooms on the node it landed on; `backend.stop()` ends the backend after.
async function recoversOnTheOtherNode(backend, options = {}) {
  try {
    const { s, got, id, n1, n2, lb } = await movedToTheOtherNode(backend, options);
    const landed = options.stay ? n1 : n2;
    assert.equal(s.recovered, true);
    assert.equal(s.id, id);
    await sleep(200);
    assert.deepEqual(got, [0, 1, 2, 3]);
    assert.equal((await landed.send('stats')).recovered, 1);
    // Its rooms came back on that node.
    assert.equal(await landed.send('emitToRoom', { room: 'watchlist:TSLA', event: 'quote:update', data: 1 }), 1);
    s.close();
    await lb.close();
  } finally {
    await backend.stop();
  }
}

// One client on n1 behind a proxy, a trade, then its connection cut and the proxy retargeted to
// n2; `meanwhile({ n1, n2 })` runs once n1 saved its session. The client must come back to n2
// afresh, with nothing replayed.
async function startsFreshOnTheOtherNode(flags, meanwhile) {
  const slower = { ...RECONNECTING, reconnectionDelay: 1000, reconnectionDelayMax: 1000 };
  const { nodes: [n1, n2], lb, s, got } = await clientBehindProxy(flags, 2, slower);
  await n1.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: 0 } });
  await sleep(150);
  const id = s.id;
  const { back } = await moveClient(lb, s, n2.port, 15_000);
  await sleep(300); // n1 saved the session
  await meanwhile({ n1, n2 });
  await back;
  assert.equal(s.recovered, false, 'n2 may lack broadcasts it missed: no replay');
  assert.notEqual(s.id, id);
  await sleep(200);
  assert.deepEqual(got, [0], 'nothing replayed with a gap');
  assert.equal((await n2.send('stats')).recovered, 0);
  s.close();
  await lb.close();
}

test('classic pub/sub: when the other node\'s subscription broke while the client was away, it starts fresh there, never with a gap', async () => {
  const redis = await startRedis();
  try {
    await startsFreshOnTheOtherNode(['--redis', redis.url, '--recovery-ms', '5000'], async ({ n1 }) => {
      // Every subscriber connection is cut (sessions and publishing stay): while n2's
      // subscriber comes back, the trades n1 emits never reach n2's log.
      await redisCommand(redis.port, 'client', 'kill', 'type', 'pubsub');
      for (let n = 1; n <= 3; n++) await n1.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n } });
    });
  } finally {
    await redis.stop();
  }
});

test('sharded dynamic mode: the client\'s last packet went to everyone, and it still recovers on a node that followed none of its rooms', async () => {
  const cluster = await startRedisCluster();
  const backend = { flags: ['--redis', cluster.url, '--redis-sharded', 'dynamic'], stop: () => cluster.stop() };
  await recoversOnTheOtherNode(backend, { lastToAll: true });
});

test('sharded dynamic mode: when the node it dropped from is gone, the client starts fresh on another, never with a gap', async () => {
  const cluster = await startRedisCluster();
  try {
    const flags = ['--redis', cluster.url, '--redis-sharded', 'dynamic', '--recovery-ms', '10000'];
    await startsFreshOnTheOtherNode(flags, async ({ n1, n2 }) => {
      await n1.stop(); // the only node that followed the client's rooms
      for (let n = 1; n <= 3; n++) await n2.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n } });
    });
  } finally {
    await cluster.stop();
  }
});

test('sharded dynamic mode: under a live feed from a third node, a client moving to another node gets every trade exactly once, in order', async () => {
  const cluster = await startRedisCluster();
  try {
    const flags = ['--redis', cluster.url, '--redis-sharded', 'dynamic', '--recovery-ms', '5000'];
    const { nodes: [, n2, n3], lb, s, got } = await clientBehindProxy(flags, 3);
    await sleep(200); // n1 follows the client's user room
    let sent = 0;
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        await n3.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { n: sent++ } });
        await sleep(2);
      }
    })();
    await sleep(300);
    const id = s.id;
    const { back } = await moveClient(lb, s, n2.port, 10_000);
    await back;
    await sleep(300);
    feeding = false;
    await feed;
    await sleep(300);
    assert.equal(s.recovered, true);
    assert.equal(s.id, id);
    assert.ok(sent > 50, `the feed ran throughout (${sent} trades)`);
    assert.deepEqual(got, [...Array(sent).keys()], 'every trade once, in order, across the move');
    assert.equal((await n2.send('stats')).recovered, 1);
    s.close();
    await lb.close();
  } finally {
    await cluster.stop();
  }
});

test('sharded dynamic mode: back on its own node, the client recovers what another node emitted to its rooms meanwhile', async () => {
  const cluster = await startRedisCluster();
  // The client was its node's only member of its rooms: the node keeps their channels for the
  // recovery window, so the trades emitted on n2 while it was away are in n1's log.
  const backend = { flags: ['--redis', cluster.url, '--redis-sharded', 'dynamic'], stop: () => cluster.stop() };
  await recoversOnTheOtherNode(backend, { stay: true });
});

// socket.io's cluster-wide server API over one real redis-server, tested once and run on four
// clusters of two servers: socket.io + socket.io (both on @socket.io/redis-adapter, the
// reference), roomcast + roomcast (createRedisAdapter), and both mixed ones (roomcast asking a
// socket.io node, socket.io asking a roomcast node). Each body asks server `a` about sockets
// connected to server `b`, with the official socket.io-client. A body that passes on
// socket.io + socket.io and fails on a cluster with roomcast in it is a roomcast bug.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { Server as SocketIoServer } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { startRedis, waitFor, sleep } from './helpers.mjs';

const require = createRequire(import.meta.url);
const roomcast = require('roomcast');
const { createClient } = require('redis');
const { createAdapter } = require('@socket.io/redis-adapter');

let redis;
const open = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const close of open.reverse()) await close();
  await redis.stop();
});

let keys = 0;
const REQUESTS_TIMEOUT = 1500;

// One server of the cluster under channel prefix `key`: its io, a client factory, and the
// server-side socket of each client once it connected.
async function boot(kind, key) {
  const httpServer = http.createServer();
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  let io;
  const redisClients = [];
  if (kind === 'socket.io') {
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    redisClients.push(pub, sub);
    io = new SocketIoServer(httpServer, { adapter: createAdapter(pub, sub, { key, requestsTimeout: REQUESTS_TIMEOUT }) });
  } else {
    io = new roomcast.Server(httpServer);
    io.adapter(roomcast.createRedisAdapter(redis.url, { key, requestsTimeout: REQUESTS_TIMEOUT }));
  }
  io.use((socket, next) => {
    socket.data = { user: socket.handshake.auth.user ?? null };
    next();
  });
  const sockets = new Map();
  io.on('connection', (socket) => {
    sockets.set(socket.id, socket);
    socket.data.since = 'connection'; // changed in place, after the middleware
    socket.join('everyone');
  });
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  const clients = [];
  const client = async (auth = {}) => {
    const c = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
    clients.push(c);
    await waitFor(c, 'connect');
    while (!sockets.has(c.id)) await sleep(5);
    return c;
  };
  const close = async () => {
    for (const c of clients) c.close();
    await new Promise((resolve) => io.close(() => resolve()));
    await Promise.allSettled(redisClients.map((r) => r.quit()));
  };
  open.push(close);
  return { io, client, socketOf: (c) => sockets.get(c.id) };
}

// Both servers subscribed: each sees the other in its server count.
async function cluster(kindA, kindB) {
  const key = `cluster-test-${++keys}`;
  const [a, b] = [await boot(kindA, key), await boot(kindB, key)];
  const deadline = Date.now() + 5000;
  while ((await a.io.of('/').adapter.serverCount()) < 2 || (await b.io.of('/').adapter.serverCount()) < 2) {
    if (Date.now() > deadline) throw new Error('servers did not see each other');
    await sleep(50);
  }
  return { a, b, key };
}

const CLUSTERS = [
  ['socket.io', 'socket.io'],
  ['roomcast', 'roomcast'],
  ['roomcast', 'socket.io'],
  ['socket.io', 'roomcast'],
];

function parity(name, body) {
  for (const [kindA, kindB] of CLUSTERS) {
    test(`${kindA} asks ${kindB}: ${name}`, async () => body(await cluster(kindA, kindB)));
  }
}

parity('fetchSockets lists the other server\'s sockets with handshake, rooms and data', async ({ a, b }) => {
  const here = await a.client({ user: 'ann' });
  const there = await b.client({ user: 'bob' });
  b.socketOf(there).join('desk:fx');
  const all = await a.io.fetchSockets();
  assert.deepEqual(all.map((s) => s.id).sort(), [here.id, there.id].sort());
  const [remote] = await a.io.in('desk:fx').fetchSockets();
  assert.equal(remote.id, there.id);
  assert.deepEqual([...remote.rooms].sort(), [there.id, 'desk:fx', 'everyone'].sort());
  assert.deepEqual(remote.data, { user: 'bob', since: 'connection' });
  assert.equal(remote.handshake.auth.user, 'bob');
  assert.deepEqual((await a.io.except('desk:fx').fetchSockets()).map((s) => s.id), [here.id]);
  assert.deepEqual((await a.io.local.fetchSockets()).map((s) => s.id), [here.id]);
});

parity('a remote socket: emit reaches its client, join and leave change its rooms', async ({ a, b }) => {
  const there = await b.client();
  const [remote] = await a.io.in(there.id).fetchSockets();
  const got = waitFor(there, 'direct');
  remote.emit('direct', { n: 1 });
  assert.deepEqual(await got, { n: 1 });
  remote.join('vip');
  await sleep(200);
  assert.ok(b.socketOf(there).rooms.has('vip'));
  const news = waitFor(there, 'news');
  a.io.to('vip').emit('news', 'for vip');
  assert.equal(await news, 'for vip');
  remote.leave('vip');
  await sleep(200);
  assert.ok(!b.socketOf(there).rooms.has('vip'));
});

parity('socketsJoin and socketsLeave act on every server', async ({ a, b }) => {
  const here = await a.client();
  const there = await b.client();
  a.io.in('everyone').socketsJoin(['alerts', 'extra']);
  await sleep(200);
  assert.ok(a.socketOf(here).rooms.has('alerts') && b.socketOf(there).rooms.has('alerts'));
  a.io.socketsLeave('extra');
  await sleep(200);
  assert.ok(!a.socketOf(here).rooms.has('extra') && !b.socketOf(there).rooms.has('extra'));
  assert.ok(b.socketOf(there).rooms.has('alerts'));
});

parity('disconnectSockets by room disconnects on every server', async ({ a, b }) => {
  const here = await a.client();
  const there = await b.client();
  b.socketOf(there).join('kick');
  const reason = new Promise((resolve) => there.once('disconnect', resolve));
  a.io.in('kick').disconnectSockets();
  assert.equal(await reason, 'io server disconnect');
  assert.ok(here.connected, 'a socket outside the room stays');
});

parity('serverSideEmit reaches the other server; with acks, one answer per other server', async ({ a, b }) => {
  const heard = new Promise((resolve) => b.io.on('cache:flush', (scope) => resolve(scope)));
  a.io.serverSideEmit('cache:flush', 'quotes');
  assert.equal(await heard, 'quotes');
  b.io.on('health', (detail, ack) => ack({ ok: true, detail }));
  assert.deepEqual(await a.io.serverSideEmitWithAck('health', 'deep'), [{ ok: true, detail: 'deep' }]);
  assert.throws(() => a.io.serverSideEmit('connection'), /reserved event name/);
});

parity('serverSideEmitWithAck without a listener on the other server times out with the responses so far', async ({ a }) => {
  const error = await a.io.serverSideEmitWithAck('nobody-listens').then(() => null, (e) => e);
  assert.ok(error instanceof Error, 'rejected');
  assert.match(error.message, /timeout reached/);
  assert.deepEqual(error.responses, []);
});

parity('acks from many: io.timeout().emitWithAck collects every client on every server', async ({ a, b }) => {
  const here = await a.client();
  const there = await b.client();
  for (const c of [here, there]) c.on('vote', (ack) => ack(c.id));
  const votes = await a.io.timeout(3000).emitWithAck('vote');
  assert.deepEqual(votes.sort(), [here.id, there.id].sort());
  const [remote] = await a.io.in(there.id).fetchSockets();
  assert.equal(await remote.timeout(3000).emitWithAck('vote'), there.id);
});

parity('acks from many time out when a client on the other server does not answer', async ({ a, b }) => {
  const here = await a.client();
  const there = await b.client();
  here.on('vote', (ack) => ack('yes'));
  there.on('vote', () => {});
  const outcome = await new Promise((resolve) => a.io.timeout(500).emit('vote', (err, responses) => resolve({ err, responses })));
  assert.ok(outcome.err instanceof Error);
  assert.deepEqual(outcome.responses, ['yes']);
});

parity('allRooms and serverCount see the whole cluster', async ({ a, b }) => {
  const there = await b.client();
  b.socketOf(there).join('desk:rates');
  const rooms = await a.io.of('/').adapter.allRooms();
  assert.ok(rooms.has('desk:rates') && rooms.has(there.id) && rooms.has('everyone'));
  assert.equal(await a.io.of('/').adapter.serverCount(), 2);
});

parity('a request to a server that never answers fails after requestsTimeout, not forever', async ({ a, key }) => {
  // A third subscriber on the request channel that never answers: it is counted as a server.
  const silent = createClient({ url: redis.url });
  await silent.connect();
  await silent.subscribe(`${key}-request#/#`, () => {});
  try {
    const started = Date.now();
    const error = await a.io.fetchSockets().then(() => null, (e) => e);
    assert.ok(error instanceof Error, 'fetchSockets rejected');
    assert.match(error.message, /timeout reached while waiting for fetchSockets response/);
    assert.ok(Date.now() - started < REQUESTS_TIMEOUT + 3000, 'within the timeout');
  } finally {
    await silent.quit();
  }
});

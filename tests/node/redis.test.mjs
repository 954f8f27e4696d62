// Multi-node through a real redis-server: cross-node emits reach each socket exactly once, the
// unmodified @socket.io/redis-emitter reaches roomcast users, a Node socket.io server with
// @socket.io/redis-adapter and a roomcast node exchange room broadcasts both ways (and the
// roomcast node answers the Node node's fetchSockets), and Redis
// going away and coming back does not stop local delivery, then cross-node delivery resumes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';
import { startHost, startRedis, waitFor, sleep, collect } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');

let redis;
const hosts = [];
const clients = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const c of clients) c.close();
  for (const h of hosts) await h.stop();
  await redis.stop();
});

async function node(extra = []) {
  const h = await startHost(['--redis', redis.url, '--ping-interval', '1000', '--ping-timeout', '1000', ...extra]);
  hosts.push(h);
  await h.send('session', { sessionID: 'sa', userId: 'ua' });
  await h.send('session', { sessionID: 'sb', userId: 'ub' });
  await waitUntil(async () => (await h.send('stats')).redisAdapter === true);
  return h;
}

async function waitUntil(check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error('condition not reached');
}

function client(h, sessionID, userId, opts = {}) {
  const socket = io(h.url, { auth: { sessionID, userId }, transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
  clients.push(socket);
  return socket;
}

test('emits on one node reach the matching sockets on every node exactly once', async () => {
  const [n1, n2] = [await node(), await node()];
  const a1 = client(n1, 'sa', 'ua');
  const a2 = client(n2, 'sa', 'ua');
  const b2 = client(n2, 'sb', 'ub');
  await Promise.all([a1, a2, b2].map((s) => waitFor(s, 'connected')));
  await b2.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['AAPL'] });
  await a1.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['AAPL'] });
  const trades = [a1, a2, b2].map((s) => collect(s, 'trade:executed'));
  const quotes = [a1, a2, b2].map((s) => collect(s, 'quote:update'));
  const notices = [a1, a2, b2].map((s) => collect(s, 'notice'));

  assert.equal(await n1.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { id: 1 } }), 1, 'local count');
  assert.equal(await n2.send('emitToRoom', { room: 'watchlist:AAPL', event: 'quote:update', data: { p: 1 } }), 1);
  await n1.send('emitToAll', { event: 'notice', data: 'all' });
  await sleep(400);
  assert.deepEqual(trades.map((t) => t.length), [1, 1, 0]);
  assert.deepEqual(quotes.map((q) => q.length), [1, 0, 1]);
  assert.deepEqual(notices.map((n) => n.length), [1, 1, 1]);
});

test('to(socket.id) on one node reaches that socket on another node, and only it', async () => {
  const [n1, n2] = [await node(), await node()];
  const target = client(n2, 'sa', 'ua');
  const sameUser = client(n2, 'sa', 'ua');
  await Promise.all([target, sameUser].map((s) => waitFor(s, 'connected')));
  const got = [target, sameUser].map((s) => collect(s, 'direct'));
  assert.equal(await n1.send('emitToRoom', { room: target.id, event: 'direct', data: { to: 'one' } }), 0, 'no local member');
  await sleep(400);
  assert.deepEqual(got.map((g) => g.length), [1, 0]);
  assert.deepEqual(got[0][0], { to: 'one' });
});

test('the unmodified @socket.io/redis-emitter reaches roomcast users', async () => {
  const n1 = await node();
  const a = client(n1, 'sa', 'ua');
  await waitFor(a, 'connected');
  const redisClient = createClient({ url: redis.url });
  await redisClient.connect();
  try {
    const emitter = new Emitter(redisClient);
    emitter.to('user:ua').emit('trade:executed', { id: 'from-emitter', chart: Buffer.from([7, 8]) });
    const trade = await waitFor(a, 'trade:executed');
    assert.equal(trade.id, 'from-emitter');
    assert.deepEqual(Buffer.from(trade.chart), Buffer.from([7, 8]));
    emitter.emit('notice', 'everyone');
    assert.equal(await waitFor(a, 'notice'), 'everyone');
  } finally {
    await redisClient.quit();
  }
});

test('a Node socket.io server with @socket.io/redis-adapter and a roomcast node broadcast both ways', async () => {
  const n1 = await node();
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const nodeIo = new Server(httpServer, { adapter: createAdapter(pub, sub) });
  nodeIo.on('connection', (socket) => socket.join('watchlist:AAPL'));
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  try {
    const nodeClient = io(`http://127.0.0.1:${httpServer.address().port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    clients.push(nodeClient);
    await waitFor(nodeClient, 'connect');
    const rc = client(n1, 'sa', 'ua');
    await waitFor(rc, 'connected');
    await rc.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['AAPL'] });
    await sleep(200);

    // Node → roomcast
    nodeIo.to('watchlist:AAPL').emit('quote:update', { from: 'node' });
    assert.deepEqual(await waitFor(rc, 'quote:update'), { from: 'node' });
    // roomcast → Node
    const atNode = waitFor(nodeClient, 'quote:update');
    await n1.send('emitToRoom', { room: 'watchlist:AAPL', event: 'quote:update', data: { from: 'roomcast' } });
    assert.deepEqual(await atNode, { from: 'roomcast' });
    // The Node server's cluster requests are answered by the roomcast nodes, at once: its
    // fetchSockets lists roomcast sockets with their rooms.
    const started = Date.now();
    const sockets = await nodeIo.fetchSockets();
    const ids = sockets.map((s) => s.id);
    assert.ok(ids.includes(nodeClient.id) && ids.includes(rc.id), 'both nodes\' sockets listed');
    assert.ok(sockets.find((s) => s.id === rc.id).rooms.has('watchlist:AAPL'));
    assert.ok(Date.now() - started < 4000, 'fetchSockets did not wait for a timeout');
  } finally {
    nodeIo.close();
    await Promise.allSettled([pub.quit(), sub.quit()]);
  }
});

test('Redis down: local delivery goes on, the adapter reports it, and cross-node delivery resumes', async () => {
  const [n1, n2] = [await node(), await node()];
  const a1 = client(n1, 'sa', 'ua');
  const a2 = client(n2, 'sa', 'ua');
  await Promise.all([a1, a2].map((s) => waitFor(s, 'connected')));
  const port = redis.port;
  await redis.stop();
  await waitUntil(async () => (await n1.send('stats')).redisAdapter === false);
  const local = collect(a1, 'during');
  assert.equal(await n1.send('emitToUser', { userId: 'ua', event: 'during', data: 1 }), 1);
  await sleep(100);
  assert.equal(local.length, 1);

  redis = await startRedis(port);
  await waitUntil(async () => (await n1.send('stats')).redisAdapter && (await n2.send('stats')).redisAdapter, 10_000);
  const remote = collect(a2, 'after');
  await waitUntil(async () => {
    await n1.send('emitToUser', { userId: 'ua', event: 'after', data: 1 });
    await sleep(100);
    return remote.length > 0;
  }, 10_000);
  assert.ok(remote.length >= 1);
});

test('disconnectUser on one node disconnects that user on every node', async () => {
  const [n1, n2] = [await node(), await node()];
  const a1 = client(n1, 'sa', 'ua');
  const a2 = client(n2, 'sa', 'ua');
  const b2 = client(n2, 'sb', 'ub');
  await Promise.all([a1, a2, b2].map((s) => waitFor(s, 'connected')));
  const gone = [a1, a2].map((s) => waitFor(s, 'disconnect'));
  assert.equal(await n1.send('disconnectUser', { userId: 'ua' }), 1, 'local count');
  for (const g of gone) assert.equal((await g)[0], 'io server disconnect');
  await sleep(100);
  assert.equal(b2.connected, true);
});

test('the subscription cap holds across nodes, and a dead node\'s counts expire', async () => {
  const limits = ['--max-subscriptions', '3', '--rate-limit', '1000', '--node-ttl', '1500'];
  const [n1, n2] = [await node(limits), await node(limits)];
  const a1 = client(n1, 'sa', 'ua');
  const a2 = client(n2, 'sa', 'ua');
  await Promise.all([a1, a2].map((s) => waitFor(s, 'connected')));
  assert.equal((await a1.timeout(3000).emitWithAck('subscribe:watchlist', { symbols: ['A', 'B'] })).success, true);
  const refused = await a2.timeout(3000).emitWithAck('subscribe:watchlist', { symbols: ['C', 'D'] });
  assert.equal(refused.error.code, 'SUBSCRIPTION_LIMIT');
  assert.equal((await a2.timeout(3000).emitWithAck('subscribe:watchlist', { symbols: ['C'] })).success, true);
  assert.equal(await n1.send('subscriptions', { userId: 'ua' }), 3);
  assert.equal(await n2.send('subscriptions', { userId: 'ua' }), 3);

  // Unsubscribing on one node frees room on the other.
  await a1.timeout(3000).emitWithAck('unsubscribe:watchlist', { symbols: ['A'] });
  assert.equal((await a2.timeout(3000).emitWithAck('subscribe:watchlist', { symbols: ['D'] })).success, true);
  assert.equal(await n2.send('subscriptions', { userId: 'ua' }), 3);

  // n1 dies without a shutdown: once its liveness key expires, its share no longer counts.
  n1.proc.kill('SIGKILL');
  await n1.exited;
  await waitUntil(async () => (await n2.send('subscriptions', { userId: 'ua' })) === 2, 10_000);
  assert.equal((await a2.timeout(3000).emitWithAck('subscribe:trades')).success, true);

  // A clean disconnect brings the cluster count back to zero.
  a2.close();
  await waitUntil(async () => (await n2.send('subscriptions', { userId: 'ua' })) === 0, 5_000);
});

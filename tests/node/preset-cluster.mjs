// The dashboard preset's cluster behaviour, run once per Redis backend (redis.test.mjs: one
// redis-server with classic pub/sub; sharded.test.mjs: a Redis Cluster with sharded pub/sub):
// exact-once cross-node delivery, a socket's own room across nodes, a Node socket.io server in
// the same cluster, disconnectUser everywhere, and the subscription cap across nodes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';
import { startHost, waitFor, sleep, collect } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { Server } = require('socket.io');

export async function waitUntil(check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error('condition not reached');
}

// Preset hosts on one backend: `redisArgs()` gives the host's Redis flags (called when a node
// starts, so the backend may start in a `before` hook).
export function presetNodes(redisArgs) {
  const hosts = [];
  const clients = [];
  after(async () => {
    for (const c of clients) c.close();
    for (const h of hosts) await h.stop();
  });
  async function node(extra = []) {
    const h = await startHost([...redisArgs(), '--ping-interval', '1000', '--ping-timeout', '1000', ...extra]);
    hosts.push(h);
    await h.send('session', { sessionID: 'sa', userId: 'ua' });
    await h.send('session', { sessionID: 'sb', userId: 'ub' });
    await waitUntil(async () => (await h.send('stats')).redisAdapter === true);
    return h;
  }
  function client(h, sessionID, userId, opts = {}) {
    const socket = io(h.url, { auth: { sessionID, userId }, transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
    clients.push(socket);
    return socket;
  }
  return { node, client, clients };
}

// `backend.redisArgs()`: the host flags; `backend.nodeAdapter()`: a Node socket.io adapter on
// the same backend, `{ adapter, close }`.
export function presetClusterTests(label, backend) {
  const { node, client, clients } = presetNodes(backend.redisArgs);

  test(`${label}: emits on one node reach the matching sockets on every node exactly once`, async () => {
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

  test(`${label}: to(socket.id) on one node reaches that socket on another node, and only it`, async () => {
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

  test(`${label}: a Node socket.io server and a roomcast node broadcast both ways`, async () => {
    const n1 = await node();
    const { adapter, close } = await backend.nodeAdapter();
    const httpServer = http.createServer();
    const nodeIo = new Server(httpServer, { adapter });
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
      const atNode = collect(nodeClient, 'quote:update');
      nodeIo.to('watchlist:AAPL').emit('quote:update', { from: 'node' });
      assert.deepEqual(await waitFor(rc, 'quote:update'), { from: 'node' });
      // roomcast → Node
      await n1.send('emitToRoom', { room: 'watchlist:AAPL', event: 'quote:update', data: { from: 'roomcast' } });
      await waitUntil(() => atNode.some((q) => q.from === 'roomcast'));
      assert.deepEqual(atNode.map((q) => q.from).sort(), ['node', 'roomcast']);
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
      await close();
    }
  });

  test(`${label}: disconnectUser on one node disconnects that user on every node`, async () => {
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

  test(`${label}: the subscription cap holds across nodes, and a dead node's counts expire`, async () => {
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
}

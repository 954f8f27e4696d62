// The Node addon (`require('roomcast')`) with the official socket.io-client: the auth
// middleware's failure modes, delivery, limits, stats, shutdown (and that the process then
// exits), and same-port `attach` beside ordinary Express-style routes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';
import { waitFor, sleep, collect } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('roomcast');
const clients = [];
const servers = [];

after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.shutdown(0).catch(() => {});
});

async function listen(options = {}, middleware) {
  const server = new WebSocketServer({ pingInterval: 1000, pingTimeout: 1000, ...options });
  if (middleware) server.setAuthMiddleware(middleware);
  servers.push(server);
  server.listen(0);
  const { port } = await server.listening;
  return { server, url: `http://127.0.0.1:${port}` };
}

function client(url, auth, opts = {}) {
  const socket = io(url, { auth, reconnection: false, forceNew: true, transports: ['websocket'], ...opts });
  clients.push(socket);
  return socket;
}

const sessions = { s1: { userId: 'u1', userName: 'Alice' }, s2: { userId: 'u2', userName: 'Bob' } };
const lookup = async (auth) => {
  const s = sessions[auth.sessionID];
  return s && s.userId === auth.userId ? { ...s, userRole: 'trader' } : null;
};

test('each middleware failure ends only that handshake, with the seed\'s codes', async () => {
  const { server, url } = await listen({ authTimeout: 300 }, async (auth, handshake) => {
    assert.equal(typeof handshake.headers, 'object');
    switch (auth.sessionID) {
      case 'sync-throw': throw new Error('boom');
      case 'reject': return Promise.reject(new Error('store down'));
      case 'shape': return { user: 'nope' };
      case 'never': return new Promise(() => {});
      default: return lookup(auth);
    }
  });
  // A synchronous throw from a non-async middleware too.
  const good = client(url, { sessionID: 's1', userId: 'u1' });
  assert.equal((await waitFor(good, 'connected')).userId, 'u1');
  for (const [sessionID, message] of [
    ['sync-throw', 'AUTHENTICATION_FAILED'],
    ['reject', 'AUTHENTICATION_FAILED'],
    ['shape', 'AUTHENTICATION_FAILED'],
    ['never', 'AUTHENTICATION_FAILED'],
    ['unknown', 'UNAUTHORIZED: Invalid session or user mismatch'],
  ]) {
    const s = client(url, { sessionID, userId: 'u1' });
    assert.equal((await waitFor(s, 'connect_error')).message, message, sessionID);
  }
  const missing = client(url, { userId: 'u1' });
  assert.equal((await waitFor(missing, 'connect_error')).message, 'UNAUTHORIZED: Missing authentication credentials');
  assert.equal(good.connected, true);
  assert.equal(server.getStats().totalConnections, 1);

  const syncServer = await listen({}, (auth) => {
    if (auth.sessionID === 'throw') throw new Error('sync');
    return lookup(auth);
  });
  const s = client(syncServer.url, { sessionID: 'throw', userId: 'u1' });
  assert.equal((await waitFor(s, 'connect_error')).message, 'AUTHENTICATION_FAILED');
});

test('trades reach every tab of their user only; quotes reach watchlist subscribers; batch emits', async () => {
  const { server, url } = await listen({}, lookup);
  const connected = [];
  const onConnection = (socket) => connected.push(socket);
  server.on('connection', onConnection);
  const [a1, a2, b] = [
    client(url, { sessionID: 's1', userId: 'u1' }),
    client(url, { sessionID: 's1', userId: 'u1' }, { transports: ['polling'] }),
    client(url, { sessionID: 's2', userId: 'u2' }),
  ];
  await Promise.all([a1, a2, b].map((s) => waitFor(s, 'connected')));
  assert.deepEqual(connected.map((s) => s.userRole), ['trader', 'trader', 'trader']);
  const trades = [a1, a2, b].map((s) => collect(s, 'trade:executed'));
  assert.equal(server.emitToUser('u1', 'trade:executed', { userId: 'u1', trade: { id: 't1' } }), 2);

  await b.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['AAPL'] });
  const quotes = collect(b, 'quote:update');
  assert.equal(server.emitBatch([
    { room: 'watchlist:AAPL', event: 'quote:update', data: { symbol: 'AAPL', price: 1 } },
    { room: 'watchlist:MSFT', event: 'quote:update', data: { symbol: 'MSFT', price: 2 } },
    { userId: 'u2', event: 'trade:failed', data: { trade: { error: 'x' } } },
  ]), 2);
  // JSON text items are validated: one bad item refuses the whole batch, nothing is sent.
  assert.throws(() => server.emitBatch([
    { room: 'watchlist:AAPL', event: 'quote:update', json: '{"symbol":"AAPL","price":9}' },
    { room: 'watchlist:AAPL', event: 'quote:update', json: '{"symbol":' },
  ]), /JSON/);
  // A raw separator inside JSON text is invalid JSON, so it cannot smuggle another item in.
  assert.throws(() => server.emitBatch([
    { room: 'watchlist:MSFT', event: 'x', json: '1\x1ewatchlist:AAPL\x1fquote:update\x1f{"symbol":"EVIL"}' },
  ]));
  // Names containing the separators are still delivered (on their own), in order.
  assert.equal(server.emitBatch([
    { room: 'watchlist:AAPL', event: 'quote:update', json: '{"symbol":"AAPL","price":3}' },
    { room: 'watchlist:AAPL', event: 'odd\x1fname', data: 1 },
    { room: 'watchlist:AAPL', event: 'quote:update', data: { symbol: 'AAPL', price: 4 } },
  ]), 3);
  assert.equal(server.emitToRoom('watchlist:AAPL', 'chart', Buffer.from([1, 2, 3])), 1);
  const chart = await waitFor(b, 'chart');
  assert.deepEqual(Buffer.from(chart), Buffer.from([1, 2, 3]));
  await sleep(150);
  assert.deepEqual(trades[0], [{ userId: 'u1', trade: { id: 't1' } }]);
  assert.deepEqual(trades[1], [{ userId: 'u1', trade: { id: 't1' } }]);
  assert.deepEqual(trades[2], []);
  assert.deepEqual(quotes, [{ symbol: 'AAPL', price: 1 }, { symbol: 'AAPL', price: 3 }, { symbol: 'AAPL', price: 4 }]);
  assert.equal(server.emitToAll('notice', 'hello'), 3);
  await sleep(100);
  // Every broadcast that reached someone was timed until its last member's frame was written,
  // kept apart by size: the two-tab trade and the 3-member notice in '2-10', the rest in '1'.
  const { broadcastLatency } = server.getStats();
  assert.deepEqual(broadcastLatency.map((c) => c.recipients), ['1', '2-10', '11-100', '101-1000', '1001-10000', '10001+']);
  assert.ok(broadcastLatency[0].broadcasts >= 5, JSON.stringify(broadcastLatency[0]));
  assert.equal(broadcastLatency[1].broadcasts, 2);
  assert.ok(broadcastLatency[1].latency.maxMs > 0);
  assert.match(server.metrics(), /^roomcast_broadcast_written_seconds_count\{recipients="2-10"\} [2-9]\d*$/m);
  // Without a listener, connection events are no longer sent across at all.
  server.off('connection', onConnection);
  const late = client(url, { sessionID: 's2', userId: 'u2' });
  await waitFor(late, 'connected');
  await sleep(100);
  assert.equal(connected.length, 3);
});

test('single emits carry any payload exactly, and bad arguments throw instead of crashing', async () => {
  const { server, url } = await listen({}, lookup);
  const alice = client(url, { sessionID: 's1', userId: 'u1' });
  await waitFor(alice, 'connected');
  const got = collect(alice, 'big');
  // Larger than the reused argument buffers, with multi-byte characters.
  const big = { text: 'é€😀'.repeat(3000), n: 1 };
  assert.equal(server.emitToUser('u1', 'big', big), 1);
  const longRoom = `user:u1${'x'.repeat(400)}`;
  assert.equal(server.emitToRoom(longRoom, 'big', 1), 0, 'nobody in that room');
  assert.equal(server.emitToRoom('user:u1', 'big', 'after'), 1);
  await sleep(150);
  assert.deepEqual(got, [big, 'after']);
  assert.throws(() => server.emitJsonToRoom('user:u1', 'big', '{"unterminated'), /JSON/);
  // The raw functions refuse wrong argument types with an exception.
  const native = require('roomcast/native.js');
  const fast = {};
  native.installFastEmits(fast);
  assert.throws(() => fast.emitToRoom(server._handle, 42, 'e', '1', false), /string/);
  assert.throws(() => fast.emitToRoom(server._handle, 'r', 'e'), /expected/);
  assert.throws(() => fast.emitToUser(9999, 'u1', 'e', '1', false), /handle/);
  assert.equal(alice.connected, true);
});

test('custom client events reach the host with an ack; limits and stats come from the engine', async () => {
  const { server, url } = await listen({ maxSubscriptions: 2, rateLimits: { 'subscribe:trades': { max: 1, window: 60000 } } }, lookup);
  server.on('order:preview', (socket, order, ack) => {
    ack({ userId: socket.userId, total: order.qty * 10 });
  });
  const seen = [];
  server.on('clientEvent', (socket, name, args) => seen.push([name, args]));
  const s = client(url, { sessionID: 's1', userId: 'u1' });
  await waitFor(s, 'connected');
  assert.deepEqual(await s.timeout(2000).emitWithAck('order:preview', { qty: 3 }), { userId: 'u1', total: 30 });
  s.emit('connection', 'weird-name');
  await sleep(100);
  assert.deepEqual(seen, [['connection', ['weird-name']]]);

  assert.equal((await s.timeout(2000).emitWithAck('subscribe:trades')).success, true);
  const limited = await s.timeout(2000).emitWithAck('subscribe:trades');
  assert.equal(limited.error.code, 'RATE_LIMIT');
  assert.equal((await s.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['A', 'B'] })).error.code, 'SUBSCRIPTION_LIMIT');
  assert.equal(server.subscriptionCount('u1'), 1);

  const stats = server.getStats();
  assert.equal(stats.initialized, true);
  assert.equal(stats.totalConnections, 1);
  assert.equal(stats.uniqueUsers, 1);
  assert.ok(stats.rateLimited >= 1);
  assert.deepEqual(server.health().stats.totalConnections, 1);
  // Per event; the counter carries the counts of servers shut down earlier in this process.
  assert.match(server.metrics(), /^roomcast_rate_limited_total\{event="subscribe:trades"\} [1-9]\d*$/m);
  assert.equal(server.disconnectUser('u1', 'test'), 1);
  assert.equal((await waitFor(s, 'disconnect'))[0], 'io server disconnect');
});

test('shutdown delivers what was emitted, then server:shutdown, and the process exits', async () => {
  const script = `
    const { WebSocketServer } = require('roomcast');
    const { io } = require('socket.io-client');
    const server = new WebSocketServer();
    server.setAuthMiddleware(async (auth) => ({ userId: auth.userId }));
    const closed = server.listen(0);
    server.listening.then(({ port }) => {
      const c = io('http://127.0.0.1:' + port, { auth: { sessionID: 'x', userId: 'u' }, transports: ['websocket'], reconnection: false });
      const got = [];
      c.on('trade:executed', () => got.push('trade'));
      c.on('server:shutdown', () => got.push('shutdown'));
      c.on('disconnect', (reason) => { got.push(reason); console.log(JSON.stringify(got)); });
      c.on('connected', () => { server.emitToUser('u', 'trade:executed', {}); server.shutdown(200); });
    });
    closed.then(() => console.log('closed'));
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('process did not exit after shutdown')), 10_000);
    child.on('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  assert.equal(code, 0);
  assert.match(out, /\["trade","shutdown","io server disconnect"\]/);
  assert.match(out, /closed/);
});

test('attach(httpServer) serves Express-style routes and Socket.IO (both transports) on one port', async () => {
  const httpServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`route ${req.url}`);
  });
  const server = new WebSocketServer({ pingInterval: 1000, pingTimeout: 1000 });
  servers.push(server);
  server.setAuthMiddleware(lookup);
  server.attach(httpServer);
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  assert.equal(await fetch(`${url}/hello`).then((r) => r.text()), 'route /hello');
  for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']]) {
    const s = client(url, { sessionID: 's1', userId: 'u1' }, { transports });
    assert.equal((await waitFor(s, 'connected')).userId, 'u1');
    const ack = await s.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['NVDA'] });
    assert.deepEqual(ack.symbols, ['NVDA']);
    assert.equal(server.emitToRoom('watchlist:NVDA', 'quote:update', { p: 1 }) >= 1, true);
    assert.deepEqual(await waitFor(s, 'quote:update'), { p: 1 });
    s.close();
  }
  const bad = client(url, { sessionID: 's1', userId: 'u2' });
  assert.equal((await waitFor(bad, 'connect_error')).message, 'UNAUTHORIZED: Invalid session or user mismatch');
  await server.shutdown(0);
  server.detach();
  assert.equal(await fetch(`${url}/after`).then((r) => r.text()), 'route /after');
  httpServer.closeAllConnections();
  await new Promise((r) => httpServer.close(r));
});

test('allowRequest and allowUpgrades from JavaScript; handshake, data and the socket\'s own room per socket', async () => {
  const seen = [];
  const { server, url } = await listen(
    {
      allowUpgrades: false,
      allowRequest: (req, callback) => {
        seen.push(req);
        setTimeout(() => (req.headers['x-deny'] ? callback(req.headers['x-deny'], false) : callback(null, true)), 10);
      },
    },
    lookup,
  );
  const refused = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { 'x-deny': 'closed today' } });
  assert.equal(refused.status, 403);
  assert.deepEqual(await refused.json(), { code: 4, message: 'closed today' });
  const open = await fetch(`${url}/socket.io/?EIO=4&transport=polling&desk=fx`);
  assert.deepEqual(JSON.parse((await open.text()).slice(1)).upgrades, []);
  const last = seen.at(-1);
  assert.equal(last.method, 'GET');
  assert.equal(last.query.desk, 'fx');
  assert.match(last.address, /127\.0\.0\.1/);

  const connected = waitFor(server, 'connection');
  const socket = client(url, { sessionID: 's1', userId: 'u1' }, { query: { desk: 'rates eu' }, extraHeaders: { 'x-app': 'dash' } });
  await waitFor(socket, 'connected');
  const info = await connected;
  const handshake = server.getHandshake(info.id);
  assert.equal(handshake.query.desk, 'rates eu');
  assert.equal(handshake.headers['x-app'], 'dash');
  assert.deepEqual(handshake.auth, { sessionID: 's1', userId: 'u1' });
  assert.ok(handshake.url.startsWith('/socket.io/?'));
  assert.equal(server.getHandshake('no-such-socket'), undefined);
  assert.equal(server.getSocketData(info.id), undefined);
  assert.equal(server.setSocketData(info.id, { book: 'A' }), true);
  assert.deepEqual(server.getSocketData(info.id), { book: 'A' });
  assert.equal(server.setSocketData('no-such-socket', 1), false);
  const direct = waitFor(socket, 'direct');
  assert.equal(server.emitToRoom(info.id, 'direct', { only: 'you' }), 1);
  assert.deepEqual(await direct, { only: 'you' });
});

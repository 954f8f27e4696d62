// The seed's WebSocketServer behaviour (RealtimeServer) driven by the official socket.io-client:
// auth hand-off and its failure modes, per-user rooms and multi-tab delivery, built-in
// subscriptions, both limits, stats/health/metrics, host hooks and shutdown.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startHost, waitFor, sleep, collect } from './helpers.mjs';

const clients = [];
const hosts = [];

after(async () => {
  for (const c of clients) c.close();
  for (const h of hosts) await h.stop();
});

async function host(args = []) {
  const h = await startHost(args);
  hosts.push(h);
  return h;
}

function client(h, auth, opts = {}) {
  const socket = io(h.url, { auth, reconnection: false, forceNew: true, transports: ['websocket'], ...opts });
  clients.push(socket);
  return socket;
}

async function login(h, sessionID, userId, userName = 'User') {
  await h.send('session', { sessionID, userId, userName });
  return { sessionID, userId, userName };
}

test('auth: accepted sessions get the welcome; every failure mode gets its code', async () => {
  const h = await host(['--auth-timeout', '300']);
  const alice = await login(h, 'sess-a', 'user-a', 'Alice');
  const ok = client(h, alice);
  const welcome = await waitFor(ok, 'connected');
  assert.equal(welcome.socketId, ok.id);
  assert.equal(welcome.userId, 'user-a');
  assert.equal(welcome.message, 'WebSocket connection established');
  assert.match(welcome.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const cases = [
    [{ userId: 'user-a' }, 'UNAUTHORIZED: Missing authentication credentials'],
    [{ sessionID: 'sess-a' }, 'UNAUTHORIZED: Missing authentication credentials'],
    [{ sessionID: '', userId: 'user-a' }, 'UNAUTHORIZED: Missing authentication credentials'],
    [{ sessionID: 'nope', userId: 'user-a' }, 'UNAUTHORIZED: Invalid session or user mismatch'],
    [{ sessionID: 'sess-a', userId: 'user-b' }, 'UNAUTHORIZED: Invalid session or user mismatch'],
    [{ sessionID: 'fail-1', userId: 'user-a' }, 'AUTHENTICATION_FAILED'],
    [{ sessionID: 'hang-1', userId: 'user-a' }, 'AUTHENTICATION_FAILED'],
    [{ sessionID: 'panic-1', userId: 'user-a' }, 'AUTHENTICATION_FAILED'],
  ];
  for (const [auth, message] of cases) {
    const s = client(h, auth, { transports: ['polling'] });
    const err = await waitFor(s, 'connect_error');
    assert.equal(err.message, message, JSON.stringify(auth));
    s.close();
  }
  // None of that disturbed the accepted client.
  ok.emit('ping');
  assert.ok((await waitFor(ok, 'pong')).timestamp);
});

test('a logged-out session cannot connect again', async () => {
  const h = await host();
  const bob = await login(h, 'sess-b', 'user-b');
  const first = client(h, bob);
  await waitFor(first, 'connected');
  await h.send('logout', { sessionID: 'sess-b' });
  const second = client(h, bob);
  const err = await waitFor(second, 'connect_error');
  assert.equal(err.message, 'UNAUTHORIZED: Invalid session or user mismatch');
});

test('emitToUser reaches every tab of that user and nobody else; closing a tab keeps the rest', async () => {
  const h = await host();
  const a = await login(h, 'sa', 'ua');
  const b = await login(h, 'sb', 'ub');
  const [tab1, tab2, other] = [client(h, a), client(h, a, { transports: ['polling'] }), client(h, b)];
  await Promise.all([tab1, tab2, other].map((s) => waitFor(s, 'connected')));
  const got = [tab1, tab2, other].map((s) => collect(s, 'trade:executed'));
  const trade = { userId: 'ua', trade: { id: 'o1', symbol: 'AAPL', side: 'buy', quantity: 10, price: 185.5, status: 'filled' } };
  assert.equal(await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: trade }), 2);
  await sleep(200);
  assert.deepEqual(got[0], [trade]);
  assert.deepEqual(got[1], [trade]);
  assert.deepEqual(got[2], []);
  tab1.close();
  await h.waitEvent((e) => e.event === 'disconnect' && e.socketId && e.userId === 'ua');
  assert.equal(await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: trade }), 1);
  await sleep(200);
  assert.equal(got[1].length, 2);
  const stats = await h.send('stats');
  assert.equal(stats.totalConnections, 2);
  assert.equal(stats.uniqueUsers, 2);

  const kicked = waitFor(tab2, 'disconnect');
  assert.equal(await h.send('disconnectUser', { userId: 'ua' }), 1);
  assert.equal((await kicked)[0], 'io server disconnect');
  assert.equal(other.connected, true);
  assert.equal(await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: trade }), 0);
});

test('built-in subscriptions join derived rooms, reply, and answer acks', async () => {
  const h = await host();
  const a = await login(h, 'sa', 'ua');
  const s = client(h, a);
  await waitFor(s, 'connected');

  const portfolio = await s.timeout(2000).emitWithAck('subscribe:portfolio');
  assert.equal(portfolio.success, true);
  assert.equal(portfolio.subscription, 'portfolio');
  s.emit('subscribe:trades');
  assert.equal((await waitFor(s, 'subscribed:trades')).userId, 'ua');

  s.emit('subscribe:watchlist', { symbols: ['aapl', 'MSFT', 'brk.b'] });
  const sub = await waitFor(s, 'subscribed:watchlist');
  assert.deepEqual(sub.symbols, ['AAPL', 'MSFT', 'BRK.B']);
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 5);

  const quotes = collect(s, 'quote:update');
  const updates = collect(s, 'portfolio:update');
  assert.equal(await h.send('emitToRoom', { room: 'watchlist:AAPL', event: 'quote:update', data: { symbol: 'AAPL', price: 1 } }), 1);
  assert.equal(await h.send('emitToRoom', { room: 'portfolio:ua', event: 'portfolio:update', data: { value: 125000 } }), 1);
  assert.equal(await h.send('emitToRoom', { room: 'portfolio:ub', event: 'portfolio:update', data: { value: 1 } }), 0);
  await sleep(150);
  assert.deepEqual(quotes, [{ symbol: 'AAPL', price: 1 }]);
  assert.deepEqual(updates, [{ value: 125000 }]);

  const unsub = await s.timeout(2000).emitWithAck('unsubscribe:watchlist', { symbols: ['AAPL'] });
  assert.deepEqual(unsub.symbols, ['AAPL']);
  await waitFor(s, 'unsubscribed:watchlist').catch(() => {});
  assert.equal(await h.send('emitToRoom', { room: 'watchlist:AAPL', event: 'quote:update', data: 2 }), 0);
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 4);

  const errors = collect(s, 'error');
  for (const bad of [{ symbols: ['AAPL/../x'] }, { symbols: [] }, { symbols: 'AAPL' }, 'AAPL', { symbols: Array(51).fill('A') }]) {
    const answer = await s.timeout(2000).emitWithAck('subscribe:watchlist', bad);
    assert.equal(answer.success, false);
    assert.equal(answer.error.code, 'INVALID_PAYLOAD');
  }
  await sleep(100);
  assert.equal(errors.length, 5);
  assert.ok(errors.every((e) => e.code === 'INVALID_PAYLOAD' && typeof e.message === 'string'));
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 4, 'invalid requests change nothing');

  const pong = await s.timeout(2000).emitWithAck('ping');
  assert.match(pong.timestamp, /Z$/);
});

test('rate limit: over the limit gets RATE_LIMIT and nothing else; persistent violators are cut off', async () => {
  const h = await host(['--rate-limit', '3', '--max-violations', '2']);
  const a = await login(h, 'sa', 'ua');
  const s = client(h, a);
  await waitFor(s, 'connected');
  const errors = collect(s, 'error');
  const subscribed = collect(s, 'subscribed:watchlist');
  for (let i = 0; i < 3; i++) s.emit('subscribe:watchlist', { symbols: [`S${i}`] });
  s.emit('subscribe:watchlist', { symbols: ['LATE'] });
  await sleep(200);
  assert.equal(subscribed.length, 3);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'RATE_LIMIT');
  assert.equal(errors[0].event, 'subscribe:watchlist');
  assert.ok(errors[0].retryAfterMs > 0 && errors[0].retryAfterMs <= 20000);
  assert.equal(await h.send('emitToRoom', { room: 'watchlist:LATE', event: 'x', data: 1 }), 0);
  // Other events are not limited by it.
  s.emit('ping');
  await waitFor(s, 'pong');
  const gone = waitFor(s, 'disconnect');
  s.emit('subscribe:watchlist', { symbols: ['X'] });
  s.emit('subscribe:watchlist', { symbols: ['Y'] });
  const [reason] = await gone;
  assert.equal(reason, 'io server disconnect');
  const stats = await h.send('stats');
  assert.ok(stats.rateLimited >= 3);
});

test('subscription cap holds across a user\'s tabs and counts return to zero', async () => {
  const h = await host(['--max-subscriptions', '5', '--rate-limit', '1000']);
  const a = await login(h, 'sa', 'ua');
  const t1 = client(h, a);
  const t2 = client(h, a);
  await Promise.all([t1, t2].map((s) => waitFor(s, 'connected')));
  assert.equal((await t1.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['A', 'B', 'C'] })).success, true);
  const refused = await t2.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['D', 'E', 'F'] });
  assert.equal(refused.error.code, 'SUBSCRIPTION_LIMIT');
  assert.equal((await t2.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['D', 'E'] })).success, true);
  assert.equal((await t2.timeout(2000).emitWithAck('subscribe:portfolio')).error.code, 'SUBSCRIPTION_LIMIT');
  // Re-subscribing to a room already held costs nothing.
  assert.equal((await t1.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['A'] })).success, true);
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 5);
  t1.close();
  t2.close();
  await sleep(200);
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 0);

  // Open, subscribe and kill connections in a loop: nothing leaks.
  for (let round = 0; round < 10; round++) {
    const s = client(h, a, { transports: round % 2 ? ['polling'] : ['websocket'] });
    await waitFor(s, 'connected');
    await s.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['X', 'Y'] });
    await s.timeout(2000).emitWithAck('subscribe:trades');
    s.close();
  }
  await sleep(300);
  assert.equal(await h.send('subscriptions', { userId: 'ua' }), 0);
  const stats = await h.send('stats');
  assert.equal(stats.totalConnections, 0);
  assert.equal(stats.uniqueUsers, 0);
});

test('stats, health and metrics after a known sequence; host hooks see custom events', async () => {
  const h = await host();
  const a = await login(h, 'sa', 'ua');
  const b = await login(h, 'sb', 'ub');
  const sockets = [client(h, a), client(h, a), client(h, b)];
  await Promise.all(sockets.map((s) => waitFor(s, 'connected')));
  const answer = await sockets[2].timeout(2000).emitWithAck('order:preview', { symbol: 'AAPL', qty: 3 });
  assert.deepEqual(answer, { echo: [{ symbol: 'AAPL', qty: 3 }] });
  const seen = await h.waitEvent((e) => e.event === 'client' && e.name === 'order:preview');
  assert.deepEqual(seen.args, [{ symbol: 'AAPL', qty: 3 }]);

  const stats = await h.send('stats');
  assert.equal(stats.initialized, true);
  assert.equal(stats.totalConnections, 3);
  assert.equal(stats.uniqueUsers, 2);
  assert.equal(stats.redisAdapter, false);
  assert.ok(stats.uptime >= 0);
  assert.ok(stats.messagesIn >= 1);
  assert.ok(stats.memoryRssBytes > 0);
  assert.ok(stats.eventLatency.p99Ms > 0);

  const health = await fetch(`${h.url}/health/websocket`).then((r) => r.json());
  assert.deepEqual(Object.keys(health), ['status', 'stats']);
  assert.equal(health.status, 'healthy');
  assert.deepEqual(health.stats, { totalConnections: 3, uniqueUsers: 2, redisAdapter: false, uptime: health.stats.uptime });
  const metrics = await fetch(`${h.url}/metrics`).then((r) => r.text());
  assert.match(metrics, /^roomcast_connections 3$/m);
  assert.match(metrics, /^roomcast_unique_users 2$/m);
  assert.match(metrics, /^roomcast_event_latency_seconds_count \d+$/m);
  assert.match(metrics, /^process_resident_memory_bytes \d+/m);
});

test('shutdown: queued messages, then server:shutdown, then io server disconnect; process exits', async () => {
  const h = await host();
  const a = await login(h, 'sa', 'ua');
  const ws = client(h, a);
  const poll = client(h, a, { transports: ['polling'] });
  await Promise.all([ws, poll].map((s) => waitFor(s, 'connected')));
  const order = [[], []];
  [ws, poll].forEach((s, i) => {
    s.on('trade:executed', () => order[i].push('trade'));
    s.on('server:shutdown', (m) => order[i].push(`shutdown:${m.message}`));
    s.on('disconnect', (reason) => order[i].push(`disconnect:${reason}`));
  });
  await h.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { id: 1 } });
  await h.send('shutdown', { graceMs: 300 });
  assert.equal(await h.exited, 0);
  await sleep(200);
  for (const events of order) {
    assert.deepEqual(events, [
      'trade',
      'shutdown:Server is shutting down for maintenance',
      'disconnect:io server disconnect',
    ]);
  }
});

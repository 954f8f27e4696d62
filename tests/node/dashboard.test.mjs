// The Express dashboard demo end to end with the real login route and session store: trade
// events reach every tab of their user and nobody else, quotes reach watchlist subscribers,
// health and metrics are served, a logged-out session cannot connect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';
import { waitFor, sleep, collect } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { start } = require('../../examples/express-dashboard/server.js');
let dashboard;
const clients = [];

before(async () => {
  dashboard = await start({ port: 0, quoteMs: 50, tradeMs: 100, engineOptions: { shutdownGrace: 100 } });
});

after(async () => {
  for (const c of clients) c.close();
  await dashboard.stop();
});

async function login(username) {
  const res = await fetch(`${dashboard.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ username }),
  });
  assert.equal(res.status, 200);
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const session = await fetch(`${dashboard.url}/api/session`, { headers: { cookie } }).then((r) => r.json());
  return { cookie, session };
}

function tab(session, transports = ['websocket']) {
  const socket = io(dashboard.url, { auth: session, transports, reconnection: false, forceNew: true });
  clients.push(socket);
  return socket;
}

test('trades reach every tab of the logged-in user and no other user', async () => {
  const alice = await login('Alice');
  const bob = await login('Bob');
  assert.equal(alice.session.userId, 'user-alice');
  const tabs = [tab(alice.session), tab(alice.session, ['polling']), tab(bob.session)];
  await Promise.all(tabs.map((t) => waitFor(t, 'connected')));
  const got = tabs.map((t) => collect(t, 'trade:executed'));
  const failed = tabs.map((t) => collect(t, 'trade:failed'));
  const deadline = Date.now() + 5000;
  while ((got[0].length < 3 || got[2].length < 3) && Date.now() < deadline) await sleep(50);
  assert.ok(got[0].length >= 3 && got[2].length >= 3, 'trades flowed');
  await sleep(300);
  for (const t of [...got[0], ...got[1], ...failed[0], ...failed[1]]) assert.equal(t.userId, 'user-alice');
  for (const t of [...got[2], ...failed[2]]) assert.equal(t.userId, 'user-bob');
  // Both of Alice's tabs saw the same trades (compare the ids both have seen so far).
  const ids = (list) => new Set(list.map((t) => t.trade.id));
  const [first, second] = [ids(got[0]), ids(got[1])];
  const common = [...first].filter((id) => second.has(id));
  assert.ok(common.length >= Math.min(first.size, second.size) - 2, 'tabs saw the same trades');
});

test('quotes reach watchlist subscribers only, portfolio updates reach the portfolio room', async () => {
  const { session } = await login('Carol');
  const s = tab(session);
  await waitFor(s, 'connected');
  const quotes = collect(s, 'quote:update');
  await sleep(200);
  assert.equal(quotes.length, 0, 'no quotes before subscribing');
  await s.timeout(2000).emitWithAck('subscribe:watchlist', { symbols: ['aapl', 'TSLA'] });
  await s.timeout(2000).emitWithAck('subscribe:portfolio');
  const portfolio = await waitFor(s, 'portfolio:update');
  assert.equal(portfolio.userId, 'user-carol');
  assert.equal(typeof portfolio.portfolio.value, 'number');
  await sleep(300);
  assert.ok(quotes.length >= 4);
  assert.deepEqual(new Set(quotes.map((q) => q.symbol)), new Set(['AAPL', 'TSLA']));
});

test('the /orders namespace (socket.io\'s Server API on the same engine) previews an order with an ack', async () => {
  const { session } = await login('Erin');
  const orders = io(`${dashboard.url}/orders`, { auth: session, transports: ['websocket'], reconnection: false, forceNew: true });
  clients.push(orders);
  await waitFor(orders, 'connect');
  const ok = await orders.timeout(2000).emitWithAck('order:preview', { symbol: 'AAPL', qty: 100, side: 'buy' });
  assert.deepEqual(ok, { ok: true, symbol: 'AAPL', qty: 100, side: 'buy', account: session.userId, estimatedFee: 0.5 });
  const bad = await orders.timeout(2000).emitWithAck('order:preview', { symbol: 'AAPL', qty: 0, side: 'buy' });
  assert.equal(bad.ok, false);
  const stranger = io(`${dashboard.url}/orders`, { auth: { sessionID: 'nope', userId: 'x' }, transports: ['websocket'], reconnection: false, forceNew: true });
  clients.push(stranger);
  const refused = await waitFor(stranger, 'connect_error');
  assert.equal(refused.message, 'UNAUTHORIZED');
  assert.deepEqual(refused.data, { code: 'UNAUTHORIZED' });
});

test('health, metrics, and a logged-out session is refused', async () => {
  const { cookie, session } = await login('Dave');
  const s = tab(session);
  await waitFor(s, 'connected');
  const health = await fetch(`${dashboard.url}/health/websocket`).then((r) => r.json());
  assert.equal(health.status, 'healthy');
  assert.ok(health.stats.totalConnections >= 1);
  const scraped = await fetch(`${dashboard.url}/metrics`);
  assert.match(scraped.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const metrics = await scraped.text();
  assert.match(metrics, /^roomcast_connections \d+$/m);
  // As a Prometheus server reads it: a real parser of the text format.
  const families = new Map(parsePrometheusTextFormat(metrics).map((f) => [f.name, f]));
  for (const family of families.values()) assert.ok(family.help, `${family.name} has HELP`);
  assert.equal(families.get('roomcast_up').metrics[0].value, '1');
  assert.ok(Number(families.get('roomcast_connections').metrics[0].value) >= 1);
  const sockets = families.get('roomcast_sockets');
  assert.equal(sockets.type, 'GAUGE');
  assert.ok(sockets.metrics.some((m) => m.labels.namespace === '/' && m.labels.transport === 'websocket' && Number(m.value) >= 1));
  assert.equal(families.get('roomcast_disconnects_total').type, 'COUNTER');
  assert.equal(families.get('roomcast_errors_total').type, 'COUNTER');
  const latency = families.get('roomcast_event_latency_seconds');
  assert.equal(latency.type, 'HISTOGRAM');
  assert.ok('0.5' in latency.metrics[0].buckets, 'a bucket at the 500 ms alert threshold');
  await fetch(`${dashboard.url}/logout`, { method: 'POST', headers: { cookie } });
  const again = tab(session);
  assert.equal((await waitFor(again, 'connect_error')).message, 'UNAUTHORIZED: Invalid session or user mismatch');
  const wrongUser = tab({ ...session, userId: 'user-mallory' });
  assert.equal((await waitFor(wrongUser, 'connect_error')).message, 'UNAUTHORIZED: Invalid session or user mismatch');
});

test('with REDIS_URL the sessions live in Redis (connect-redis) and the validator reads them there', async () => {
  const { startRedis } = await import('./helpers.mjs');
  const redis = await startRedis();
  process.env.REDIS_URL = redis.url;
  const redisDashboard = await start({ port: 0, quoteMs: 1000, tradeMs: 1000, engineOptions: { shutdownGrace: 0 } });
  delete process.env.REDIS_URL;
  try {
    const res = await fetch(`${redisDashboard.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: 'Rita' }),
    });
    const cookie = res.headers.get('set-cookie').split(';')[0];
    const session = await fetch(`${redisDashboard.url}/api/session`, { headers: { cookie } }).then((r) => r.json());
    const stored = await new Promise((resolve) => redisDashboard.store.get(session.sessionID, (err, s) => resolve(s)));
    assert.equal(stored.passport.user, 'user-rita');
    const socket = io(redisDashboard.url, { auth: session, transports: ['websocket'], reconnection: false, forceNew: true });
    clients.push(socket);
    assert.equal((await waitFor(socket, 'connected')).userId, 'user-rita');
    socket.close();
  } finally {
    await redisDashboard.stop();
    await redisDashboard.closeStore?.();
    await redis.stop();
  }
});

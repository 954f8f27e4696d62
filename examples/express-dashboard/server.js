'use strict';
// The trading dashboard backend on roomcast. Express serves the login, the session API, the
// dashboard page and health/metrics; roomcast serves Socket.IO on the same port (attach) and
// validates every connection against the express-session store, exactly as the seed's
// authenticateWebSocket middleware did.
//
// Environment: PORT (default 3000), HOST (default 127.0.0.1), REDIS_URL (sessions in Redis via
// connect-redis; MemoryStore otherwise), QUOTE_MS / TRADE_MS (feed pacing).

const http = require('node:http');
const path = require('node:path');
const express = require('express');
const session = require('express-session');
const { WebSocketServer } = require('roomcast');
const { SYMBOLS, startSimulation } = require('./feed');
const { mountOps, loadGenerator, publishStats } = require('./ops');

async function createSessionStore() {
  if (!process.env.REDIS_URL) return { store: new session.MemoryStore(), close: async () => {} };
  const { createClient } = require('redis');
  const { RedisStore } = require('connect-redis');
  const client = createClient({ url: process.env.REDIS_URL });
  await client.connect();
  return { store: new RedisStore({ client, prefix: 'dashboard:sess:' }), close: () => client.quit() };
}

function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 32);
}

// The seed's validator: the session must exist and belong to the claimed user.
function sessionValidator(store) {
  return (auth) =>
    new Promise((resolve, reject) => {
      store.get(auth.sessionID, (err, sess) => {
        if (err) return reject(err);
        if (!sess || !sess.passport || sess.passport.user !== auth.userId) return resolve(null);
        resolve({ userId: auth.userId, userName: sess.userName || 'User', userRole: sess.userRole || 'user' });
      });
    });
}

// An order ticket's preview: what the desk would send, or why it would not.
function previewOrder(order, user) {
  const { symbol, qty, side } = order || {};
  if (!SYMBOLS.includes(symbol)) return { ok: false, error: `unknown symbol ${symbol}` };
  if (!Number.isInteger(qty) || qty <= 0 || qty > 10000) return { ok: false, error: 'qty must be 1 to 10000' };
  if (side !== 'buy' && side !== 'sell') return { ok: false, error: 'side must be buy or sell' };
  return { ok: true, symbol, qty, side, account: user.userId, estimatedFee: Number((qty * 0.005).toFixed(2)) };
}

// socket.io's Server API on the same engine and the same connection: `/orders` beside the
// dashboard's `/`, authenticated against the same session store.
function mountOrders(engine, validate) {
  const orders = engine.io.of('/orders');
  orders.use((socket, next) => {
    validate(socket.handshake.auth).then((user) => {
      if (!user) return next(Object.assign(new Error('UNAUTHORIZED'), { data: { code: 'UNAUTHORIZED' } }));
      socket.data.user = user;
      next();
    }, next);
  });
  orders.on('connection', (socket) => {
    socket.on('order:preview', (order, ack) => ack(previewOrder(order, socket.data.user)));
    // The account's order history: a few KiB of JSON, sent compressed (permessage-deflate).
    socket.emit('orders:history', orderHistory(socket.data.user.userId));
  });
}

// A deterministic history of past orders for an account (the demo has no order store).
function orderHistory(account, count = 40) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${account}-${1000 + i}`,
    symbol: SYMBOLS[i % SYMBOLS.length],
    side: i % 3 === 0 ? 'sell' : 'buy',
    qty: 100 + ((i * 37) % 900),
    price: Number((150 + ((i * 13) % 97) + 0.25).toFixed(2)),
    status: i % 7 === 0 ? 'cancelled' : 'filled',
  }));
}

function createEngine(store, options, load) {
  const engine = new WebSocketServer({
    pingInterval: 25000,
    pingTimeout: 60000,
    perMessageDeflate: { threshold: 1024 },
    ...options,
  });
  engine.setAuthMiddleware(sessionValidator(store));
  mountOrders(engine, sessionValidator(store));
  mountOps(engine, sessionValidator(store), load);
  // The connection badge's round trip: the client sends a stamp, the ack returns it.
  engine.on('latency:ping', (socket, stamp, ack) => ack?.(stamp));
  const users = new Map();
  engine.on('connection', (socket) => users.set(socket.userId, (users.get(socket.userId) || 0) + 1));
  engine.on('disconnect', (socket) => {
    const n = (users.get(socket.userId) || 1) - 1;
    if (n <= 0) users.delete(socket.userId);
    else users.set(socket.userId, n);
  });
  engine.connectedUsers = () => users.keys();
  return engine;
}

async function start({ port = 3000, host = '127.0.0.1', engineOptions = {}, quoteMs, tradeMs, statsMs = 1000, allowRestart = false } = {}) {
  const { store, close: closeStore } = await createSessionStore();
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  app.use(
    session({
      secret: process.env.SESSION_SECRET || 'roomcast-demo-secret',
      resave: false,
      saveUninitialized: false,
      store,
      cookie: { httpOnly: true, sameSite: 'lax', maxAge: 7 * 24 * 3600 * 1000 },
    }),
  );

  const httpServer = http.createServer(app);
  const load = loadGenerator(store, () => `http://${host}:${httpServer.address().port}`);
  let engine = createEngine(store, engineOptions, load);
  engine.attach(httpServer);

  app.post('/login', (req, res) => {
    const name = String(req.body.username || '').trim();
    if (!name || !slug(name)) return res.status(400).json({ error: 'username required' });
    req.session.regenerate((err) => {
      if (err) return res.status(500).json({ error: 'session error' });
      req.session.passport = { user: `user-${slug(name)}` };
      req.session.userName = name;
      // The demo's operator flag (a real deployment takes roles from its identity provider).
      req.session.userRole = req.body.operator ? 'operator' : 'user';
      req.session.save(() => (req.accepts('html') && !req.is('json') ? res.redirect('/') : res.json({ ok: true })));
    });
  });
  app.post('/logout', (req, res) => req.session.destroy(() => res.json({ ok: true })));
  app.get('/api/session', (req, res) => {
    if (!req.session.passport) return res.status(401).json({ error: 'not logged in' });
    res.json({ sessionID: req.sessionID, userId: req.session.passport.user, userName: req.session.userName, userRole: req.session.userRole || 'user' });
  });
  app.get('/health/websocket', (req, res) => res.json(engine.health()));
  app.get('/metrics', (req, res) => res.type('text/plain; version=0.0.4').send(engine.metrics()));
  if (allowRestart) {
    // Development only: replaces the engine, as a deploy would, to exercise client reconnects.
    app.post('/admin/restart-engine', async (req, res) => {
      const old = engine;
      await old.shutdown(100);
      old.detach();
      engine = createEngine(store, engineOptions, load);
      engine.attach(httpServer);
      res.json({ ok: true });
    });
  }
  // The unmodified browser bundle of socket.io-client (its package exports hide dist/, so
  // resolve the package root and take the file from there).
  const clientBundle = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js');
  app.get('/socket.io-client.js', (req, res) => res.sendFile(clientBundle));
  // Charting from the installed packages (no CDN).
  const packageFile = (name, file) => path.join(path.dirname(require.resolve(`${name}/package.json`)), file);
  app.get('/vendor/lightweight-charts.js', (req, res) =>
    res.sendFile(packageFile('lightweight-charts', 'dist/lightweight-charts.standalone.production.js')));
  app.get('/vendor/uplot.js', (req, res) => res.sendFile(packageFile('uplot', 'dist/uPlot.iife.min.js')));
  app.get('/vendor/uplot.css', (req, res) => res.sendFile(packageFile('uplot', 'dist/uPlot.min.css')));
  app.get('/ops', (req, res) => res.sendFile(path.join(__dirname, 'public/ops.html')));
  app.use(express.static(path.join(__dirname, 'public')));

  const simulation = startSimulation(() => engine, { quoteMs, tradeMs });
  const stopStats = publishStats(() => engine, statsMs);
  await new Promise((resolve) => httpServer.listen(port, host, resolve));
  const bound = httpServer.address().port;

  async function stop() {
    simulation.stop();
    stopStats();
    load.stop();
    await engine.shutdown(engineOptions.shutdownGrace ?? 1000);
    httpServer.closeAllConnections?.();
    await new Promise((resolve) => httpServer.close(resolve));
    await closeStore();
  }
  return { port: bound, url: `http://${host}:${bound}`, stop, engine: () => engine, store };
}

module.exports = { start };

if (require.main === module) {
  start({
    port: Number(process.env.PORT || 3000),
    host: process.env.HOST || '127.0.0.1',
    quoteMs: Number(process.env.QUOTE_MS || 500),
    tradeMs: Number(process.env.TRADE_MS || 2000),
    allowRestart: process.env.ALLOW_RESTART === '1',
  }).then((dashboard) => {
    console.log(`dashboard listening on ${dashboard.url}`);
    const onSignal = async () => {
      await dashboard.stop();
      console.log('dashboard stopped');
      process.exit(0);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

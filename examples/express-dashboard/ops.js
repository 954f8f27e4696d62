'use strict';
// The operator side of the demo: `/ops`, a namespace only operators can join (the session must
// carry the operator role), receives the engine's stats every `statsMs` through the socket, and
// may start a bounded burst of simulated clients inside this process to watch the charts move.

const { io: connectClient } = require('socket.io-client');

const LOAD_MAX = 200;
const LOAD_HOLD_MS = 15_000;

// Only operators get in: the session validator's identity must carry the role.
function mountOps(engine, validate, load) {
  const ops = engine.io.of('/ops');
  ops.use((socket, next) => {
    validate(socket.handshake.auth).then((user) => {
      if (!user) return next(Object.assign(new Error('UNAUTHORIZED'), { data: { code: 'UNAUTHORIZED' } }));
      if (user.userRole !== 'operator') return next(Object.assign(new Error('FORBIDDEN'), { data: { code: 'FORBIDDEN' } }));
      socket.data.user = user;
      next();
    }, next);
  });
  ops.on('connection', (socket) => {
    socket.join('operators');
    socket.on('ops:load', (request, ack) => ack?.(load.start(Number(request?.clients) || 100)));
  });
  return ops;
}

// A bounded burst of simulated clients: up to LOAD_MAX at a time, each a real socket.io-client
// with a session of its own in the store, held for LOAD_HOLD_MS and then closed.
function loadGenerator(store, url) {
  let running = null;
  return {
    start(wanted) {
      if (running) return { started: 0, running: running.length, message: 'a burst is already running' };
      const count = Math.max(1, Math.min(LOAD_MAX, wanted));
      running = [];
      for (let i = 0; i < count; i++) {
        const sessionID = `load-${Date.now().toString(36)}-${i}`;
        const userId = `load-user-${i % 20}`;
        const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), httpOnly: true, path: '/' };
        store.set(sessionID, { cookie, passport: { user: userId }, userName: `Load ${i}`, userRole: 'user' }, () => {
          if (!running) return;
          const client = connectClient(url(), { auth: { sessionID, userId }, transports: ['websocket'], reconnection: false, forceNew: true });
          client.on('connected', () => client.emit('subscribe:watchlist', { symbols: ['AAPL', 'MSFT'] }));
          running.push(client);
        });
      }
      setTimeout(() => {
        for (const client of running || []) client.close();
        running = null;
      }, LOAD_HOLD_MS);
      return { started: count, holdMs: LOAD_HOLD_MS };
    },
    stop() {
      for (const client of running || []) client.close();
      running = null;
    },
  };
}

// The engine's stats to the operators' room every `statsMs` (the engine looked up each time:
// it can be replaced by a restart).
function publishStats(getEngine, statsMs) {
  const timer = setInterval(() => {
    const engine = getEngine();
    engine.io.of('/ops').to('operators').emit('ops:stats', { t: Date.now(), ...engine.getStats() });
  }, statsMs);
  return () => clearInterval(timer);
}

module.exports = { mountOps, loadGenerator, publishStats };

// The real socket.io 4.8 server with the echo server's behaviour (examples/echo-server), so a
// test body can run against both and show parity: `message` → `message-back`, acked
// `message-with-ack`, `join`/`leave`/`emit-to-room`, `handshake`/`set-data`/`get-data`/`whoami`
// answered by ack, and `/private` accepting only `auth.token === 'secret'`.
import http from 'node:http';
import { Server } from 'socket.io';

function wire(nsp, io) {
  nsp.on('connection', (socket) => {
    socket.emit('auth', socket.handshake.auth);
    socket.on('message', (...args) => socket.emit('message-back', ...args));
    socket.on('message-with-ack', (...args) => args.pop()(...args));
    socket.on('join', (room) => socket.join(room));
    socket.on('leave', (room) => socket.leave(room));
    socket.on('emit-to-room', ({ room, event, data }) => nsp.to(room).emit(event, data));
    socket.on('handshake', (ack) => ack(socket.handshake));
    socket.on('set-data', (data, ack) => {
      socket.data = data;
      ack();
    });
    socket.on('get-data', (ack) => ack(socket.data));
    socket.on('whoami', (ack) => ack(socket.id));
  });
}

// Options by the echo server's flag names: pingInterval, pingTimeout, recoveryMs, noUpgrades,
// denyHeader.
export async function startReference(options = {}) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    pingInterval: options.pingInterval ?? 300,
    pingTimeout: options.pingTimeout ?? 200,
    allowUpgrades: !options.noUpgrades,
    connectionStateRecovery: options.recoveryMs
      ? { maxDisconnectionDuration: options.recoveryMs }
      : undefined,
    allowRequest: options.denyHeader
      ? (req, callback) =>
          setTimeout(() => {
            const value = req.headers[options.denyHeader];
            callback(value ?? null, value === undefined);
          }, 20)
      : undefined,
  });
  wire(io.of('/'), io);
  wire(io.of('/custom'), io);
  const priv = io.of('/private');
  priv.use((socket, next) => {
    setTimeout(() => {
      if (socket.handshake.auth.token === 'secret') return next();
      const err = new Error('UNAUTHORIZED: bad token');
      err.data = { code: 'UNAUTHORIZED' };
      next(err);
    }, 20);
  });
  wire(priv, io);
  priv.on('connection', (socket) => socket.emit('welcome'));
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const port = httpServer.address().port;
  return {
    name: 'socket.io',
    port,
    url: `http://127.0.0.1:${port}`,
    io,
    async stop() {
      io.disconnectSockets(true);
      await new Promise((r) => io.close(() => r()));
    },
  };
}

// The roomcast echo server with the same options, as command-line flags.
export function echoFlags(options = {}) {
  const flags = [
    '--ping-interval', String(options.pingInterval ?? 300),
    '--ping-timeout', String(options.pingTimeout ?? 200),
  ];
  if (options.recoveryMs) flags.push('--recovery-ms', String(options.recoveryMs));
  if (options.noUpgrades) flags.push('--no-upgrades');
  if (options.denyHeader) flags.push('--deny-header', options.denyHeader);
  return flags;
}

// Benchmark server on the roomcast Node addon (same behaviour as the other bench servers), so a
// connection storm can be measured with the auth validator running in JavaScript.
// Needs the release addon: npm run build --workspace roomcast. Prints `listening on <port>`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('roomcast');
const port = Number(process.argv[2] || 0);
const server = new WebSocketServer({ rateLimits: {}, queueCapacity: 4096 });
server.setAuthMiddleware(async (auth) =>
  typeof auth.token === 'string' && auth.token.startsWith('t') ? { userId: auth.token } : null,
);
server.on('blast', (socket, { room = 'all', rooms = 0, n = 0, size = 100, rate = 0 } = {}) => {
  const pad = 'x'.repeat(Math.max(0, size - 40));
  const start = Date.now();
  const interval = rate > 0 ? 1000 / rate : 0;
  let i = 0;
  const step = () => {
    const end = rate > 0 ? i + 1 : Math.min(n, i + 16);
    for (; i < end && i < n; i++) {
      const due = start + Math.floor(i * interval);
      server.emitToRoom(rooms > 0 ? `room${i % rooms}` : room, 'tick', { i, ts: Date.now(), due, pad });
    }
    if (i < n) rate > 0 ? setTimeout(step, Math.max(0, start + Math.floor(i * interval) - Date.now())) : setImmediate(step);
  };
  step();
});
server.listen(port, '127.0.0.1');
server.listening.then(({ port: bound }) => console.log(`listening on ${bound}`));

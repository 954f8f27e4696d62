// Cross-node delivery through Redis versus local delivery: two roomcast servers (the addon) on
// one real redis-server, CLIENTS socket.io-client connections on server B in one room; MESSAGES
// emits are sent to that room from B itself (local) and from A (crossing Redis). Reports
// deliveries per second and the emit → receive latency (p50/p99), both measured by the clients.
// Usage: npm run build --workspace roomcast && node bench/scripts/redis-crossnode.mjs [clients] [messages]
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';
import { startRedis } from '../../tests/node/helpers.mjs';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('roomcast');
const CLIENTS = Number(process.argv[2] || 200);
const MESSAGES = Number(process.argv[3] || 200);

const redis = await startRedis();
async function server() {
  const s = new WebSocketServer({ redisUrl: redis.url, rateLimits: {}, queueCapacity: 1 << 16 });
  s.setAuthMiddleware(async (auth) => ({ userId: auth.userId }));
  s.listen(0);
  const { port } = await s.listening;
  while (!s.getStats().redisAdapter) await new Promise((r) => setTimeout(r, 20));
  return { s, url: `http://127.0.0.1:${port}` };
}
const [a, b] = [await server(), await server()];

const clients = [];
let received = 0;
let latencies = [];
for (let i = 0; i < CLIENTS; i++) {
  const c = io(b.url, { auth: { sessionID: 'x', userId: `u${i}` }, transports: ['websocket'], forceNew: true });
  clients.push(c);
  await new Promise((r) => c.on('connected', r));
  await c.emitWithAck('subscribe:watchlist', { symbols: ['AAPL'] });
  c.on('quote:update', (q) => {
    received++;
    latencies.push(Date.now() - q.ts);
  });
}

async function run(label, from) {
  received = 0;
  latencies = [];
  const expected = CLIENTS * MESSAGES;
  const started = Date.now();
  for (let seq = 0; seq < MESSAGES; seq++) {
    from.s.emitToRoom('watchlist:AAPL', 'quote:update', { symbol: 'AAPL', price: 185.5, seq, ts: Date.now() });
    if (seq % 20 === 19) await new Promise((r) => setImmediate(r));
  }
  while (received < expected && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 10));
  const seconds = (Date.now() - started) / 1000;
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  console.log(`${label.padEnd(22)} ${received}/${expected} delivered in ${seconds.toFixed(2)} s → ${(received / seconds).toFixed(0)} deliveries/s, latency p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms`);
}

console.log(`${CLIENTS} clients on node B, ${MESSAGES} emits each run`);
await run('local (emit on B)', b);
await run('cross-node (emit on A)', a);
for (const c of clients) c.close();
await Promise.all([a.s.shutdown(0), b.s.shutdown(0)]);
await redis.stop();

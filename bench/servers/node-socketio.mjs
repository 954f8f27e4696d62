// Benchmark server on the real Node socket.io 4.8 (the same behaviour as the roomcast bench
// server): token auth, rooms user:<token> + <room> + all, `blast {room, n, size, rate}` emits
// n events of size bytes with ts/due stamps. Prints `listening on <port>`.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient, createCluster } from 'redis';

// `[--recovery] [--deflate] [--redis URL [--redis-sharded MODE]] <port>`: --recovery turns on
// connection-state recovery (2 min window); --deflate permessage-deflate (threshold 1024);
// --redis clusters it through @socket.io/redis-adapter (classic pub/sub, or with
// --redis-sharded its sharded adapter on the Redis Cluster the comma-separated URLs name).
// `stats` (with an ack) answers what the node received from other nodes (sharded only).
const port = Number(process.argv.at(-1) || 0);
const recovery = process.argv.includes('--recovery');
const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ['websocket', 'polling'],
  pingInterval: 25000,
  pingTimeout: 60000,
  ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: false } } : {}),
  ...(process.argv.includes('--deflate') ? { perMessageDeflate: { threshold: 1024 } } : {}),
});

// Trade-like records filling about `size` bytes of JSON for message `i` (the same as the Rust
// bench server's).
const SYMBOLS = ['AAPL', 'MSFT', 'TSLA', 'NVDA', 'AMZN', 'GOOGL', 'META', 'NFLX'];
function rows(size, i) {
  const out = [];
  let length = 2;
  for (let k = 0; length + 60 < size; k++) {
    const row = { id: k, symbol: SYMBOLS[k % 8], side: k % 3 === 0 ? 'sell' : 'buy', qty: 100 + ((k * 37 + i * 11) % 900), priceCents: 15000 + ((k * 1301 + i * 7919) % 9700) };
    length += JSON.stringify(row).length + 1;
    out.push(row);
  }
  return out;
}
const redisAt = process.argv.indexOf('--redis');
const shardedAt = process.argv.indexOf('--redis-sharded');
// What this node received from the others (sharded adapter only), for the multi-node benchmark.
const received = { clusterIn: 0, clusterUnmatched: 0 };
if (redisAt > 0 && shardedAt > 0) {
  const rootNodes = process.argv[redisAt + 1].split(',').map((url) => ({ url }));
  const pub = createCluster({ rootNodes });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  // node-redis 5.9 rejects racing unsubscribes of a shard's last channels with "The client is
  // closed", and the adapter does not catch it: catch it so the process survives.
  const sUnsubscribe = sub.sUnsubscribe.bind(sub);
  sub.sUnsubscribe = (...args) => sUnsubscribe(...args).catch(() => {});
  io.adapter(createShardedAdapter(pub, sub, { subscriptionMode: process.argv[shardedAt + 1] }));
  const adapter = io.of('/').adapter;
  const onMessage = adapter.onMessage.bind(adapter);
  adapter.onMessage = (message, offset) => {
    if (message.type === 3 && message.uid !== adapter.uid && message.data.requestId === undefined) {
      received.clusterIn++;
      // Any local member of its rooms (or any local socket, for a broadcast to all).
      const { rooms } = message.data.opts;
      const matched = rooms.length > 0 ? rooms.some((room) => adapter.rooms.has(room)) : adapter.sids.size > 0;
      if (!matched) received.clusterUnmatched++;
    }
    return onMessage(message, offset);
  };
} else if (redisAt > 0) {
  const pub = createClient({ url: process.argv[redisAt + 1] });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}
io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token === 'string' && token.startsWith('t')) next();
  else next(new Error('UNAUTHORIZED'));
});
io.on('connection', (socket) => {
  const { token, room } = socket.handshake.auth;
  socket.join(`user:${token}`);
  if (room) socket.join(room);
  socket.join('all');
  socket.on('stats', (ack) => ack(shardedAt > 0 ? { ...received } : null));
  socket.on('blast', ({ room = 'all', rooms = 0, n = 0, size = 100, rate = 0, json = false, each = false }) => {
    const pad = 'x'.repeat(Math.max(0, size - 40));
    const start = Date.now();
    const interval = rate > 0 ? 1000 / rate : 0;
    let i = 0;
    const step = () => {
      // `each`: a live feed, one emit at a time with the event loop running in between.
      const batchEnd = rate > 0 || each ? i + 1 : Math.min(n, i + 16);
      for (; i < batchEnd && i < n; i++) {
        const due = start + Math.floor(i * interval);
        // Records change with every message, as a live feed's do.
        const filler = json ? { rows: rows(size, i) } : { pad };
        io.to(rooms > 0 ? `room${i % rooms}` : room).emit('tick', { i, ts: Date.now(), due, ...filler });
      }
      if (i < n) {
        if (rate > 0) setTimeout(step, Math.max(0, start + Math.floor(i * interval) - Date.now()));
        else setImmediate(step);
      }
    };
    step();
  });
});
// The same raised backlog as roomcast's listener, so a storm measures the server, not SYN drops.
httpServer.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => console.log(`listening on ${httpServer.address().port}`));

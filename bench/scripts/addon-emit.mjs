// Cost of one emit call from JS through the addon (release build): ~100-byte payloads to a room
// with one connected client, via the JS layer (object → JSON.stringify → native) and straight to
// the native method with a prepared JSON string, single and batched (a batch crosses the
// boundary as one string).
// Usage: npm run build --workspace roomcast && node bench/scripts/addon-emit.mjs
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('roomcast');
const server = new WebSocketServer({ queueCapacity: 1 << 20 });
server.setAuthMiddleware(async (auth) => ({ userId: auth.userId }));
server.listen(0);
const { port } = await server.listening;
const client = io(`http://127.0.0.1:${port}`, { auth: { sessionID: 's', userId: 'u1' }, transports: ['websocket'] });
await new Promise((r) => client.on('connected', r));

const data = { symbol: 'AAPL', quote: { price: 185.5, change: 1.25, volume: 1234567, ts: 1732690000000 }, src: 'bench' };
const json = JSON.stringify(data);
const N = 100_000;

function time(label, fn) {
  for (let i = 0; i < 10_000; i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${label.padEnd(44)} ${ns.toFixed(0)} ns/call`);
  return ns;
}

console.log(`payload ${json.length} bytes, ${N} calls each`);
time('emitToUser(object) via JS layer', () => server.emitToUser('u1', 'quote:update', data));
time('emitToRoom(object) via JS layer', () => server.emitToRoom('user:u1', 'quote:update', data));
const native = require('roomcast/native.js');
const fast = {};
native.installFastEmits(fast);
const h = server._handle;
time('native emitToRoom(JSON string), 1 recipient', () => fast.emitToRoom(h, 'user:u1', 'quote:update', json, false));
time('native emitToRoom(JSON string), empty room', () => fast.emitToRoom(h, 'user:nobody', 'quote:update', json, false));
time('emitJsonToRoom(JSON string, validated)', () => server.emitJsonToRoom('user:u1', 'quote:update', json));
const batch = Array.from({ length: 20 }, () => ({ userId: 'u1', event: 'quote:update', data }));
const perBatch = time('emitBatch(20 items) via JS layer', () => server.emitBatch(batch));
console.log(`${'  → per item'.padEnd(44)} ${(perBatch / 20).toFixed(0)} ns/item`);
const jsonBatch = Array.from({ length: 20 }, () => ({ userId: 'u1', event: 'quote:update', json }));
const perJsonBatch = time('emitBatch(20 JSON-text items) via JS layer', () => server.emitBatch(jsonBatch));
console.log(`${'  → per item'.padEnd(44)} ${(perJsonBatch / 20).toFixed(0)} ns/item`);
const packed = Array.from({ length: 20 }, () => `user:u1\x1fquote:update\x1f${json}`).join('\x1e');
const perPacked = time('native emitBatch(20 items, one string)', () => native.emitBatch(h, packed, false));
console.log(`${'  → per item'.padEnd(44)} ${(perPacked / 20).toFixed(0)} ns/item`);
client.close();
await server.shutdown(0);

// socket.io's Server API: io.to(room).emit(event, object) with one recipient in the room.
const { Server } = require('roomcast');
const ioServer = new Server();
ioServer.listen(0);
const bound = await ioServer.listening;
ioServer.on('connection', (socket) => socket.join('desk'));
const ioClient = io(`http://127.0.0.1:${bound.port}`, { transports: ['websocket'] });
await new Promise((r) => ioClient.on('connect', r));
while ((await ioServer.in('desk').fetchSockets()).length === 0) await new Promise((r) => setTimeout(r, 5));
time('Server API io.to(room).emit(object), 1 recipient', () => ioServer.to('desk').emit('quote:update', data));
time('Server API io.to(room).emit(object), empty room', () => ioServer.to('nobody').emit('quote:update', data));
ioClient.close();
await ioServer.close();

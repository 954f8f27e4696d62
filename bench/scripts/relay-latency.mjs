// What relaying costs a polling client whose requests land on the node that does not own its
// session: the round trip of an emit with ack (a POST, then the GET that carries the answer)
// straight to the owner, and through the other node (relayed node to node over HTTP). Two
// release-built preset hosts on one redis-server, on loopback.
// Usage: cargo build --release -p realtime-host && node bench/scripts/relay-latency.mjs [rounds]
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
process.env.ROOMCAST_HOST_BIN ||= path.join(root, 'target/release/realtime-host');
const { startHost, startRedis, waitFor } = await import('../../tests/node/helpers.mjs');

const rounds = Number(process.argv[2] || 2000);
const redis = await startRedis();
const flags = ['--redis', redis.url, '--rate-limit', '100000000'];
const [owner, other] = [await startHost(flags), await startHost(flags)];
for (const h of [owner, other]) await h.send('session', { sessionID: 's', userId: 'u' });
while (!(await owner.send('stats')).redisAdapter || !(await other.send('stats')).redisAdapter) {
  await new Promise((r) => setTimeout(r, 50));
}

// Sends the handshake to the owner and every later request to the other node.
const wrongNode = http.createServer((req, res) => {
  const port = new URL(req.url, 'http://x').searchParams.has('sid') ? other.port : owner.port;
  const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  req.pipe(upstream);
});
await new Promise((r) => wrongNode.listen(0, '127.0.0.1', r));
// The same proxy hop, always to the owner: the baseline has the proxy's cost too.
const rightNode = http.createServer((req, res) => {
  const upstream = http.request({ host: '127.0.0.1', port: owner.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  req.pipe(upstream);
});
await new Promise((r) => rightNode.listen(0, '127.0.0.1', r));

async function roundTrips(url) {
  const socket = io(url, { auth: { sessionID: 's', userId: 'u' }, transports: ['polling'], forceNew: true });
  await waitFor(socket, 'connected', 5000);
  const times = [];
  for (let i = 0; i < rounds + 100; i++) {
    const start = process.hrtime.bigint();
    await socket.timeout(5000).emitWithAck('subscribe:trades');
    if (i >= 100) times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  socket.close();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] };
}

const direct = await roundTrips(`http://127.0.0.1:${rightNode.address().port}`);
const relayed = await roundTrips(`http://127.0.0.1:${wrongNode.address().port}`);
console.log(`polling emitWithAck round trip, ${rounds} rounds (µs)`);
console.log(`  to the owner:            p50 ${direct.p50.toFixed(0)}  p99 ${direct.p99.toFixed(0)}`);
console.log(`  relayed by the other node: p50 ${relayed.p50.toFixed(0)}  p99 ${relayed.p99.toFixed(0)}`);
console.log(`  relay adds:              p50 ${(relayed.p50 - direct.p50).toFixed(0)}`);
wrongNode.close();
rightNode.close();
await owner.stop();
await other.stop();
await redis.stop();

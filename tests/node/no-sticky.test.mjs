// Polling without sticky sessions: two preset nodes on one Redis behind a round-robin proxy that
// sends every HTTP request (and every WebSocket upgrade) to the next node, with no affinity.
// The official socket.io-client long-polls, emits with acks, receives pushes and upgrades to
// WebSocket through it: requests that land on the node that does not own the session are
// relayed to the owner.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { io } from 'socket.io-client';
import { startRedis, waitFor, sleep } from './helpers.mjs';
import { presetNodes, waitUntil } from './preset-cluster.mjs';

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

const { node, clients } = presetNodes(() => ['--redis', redis.url]);

// A load balancer with no affinity at all: each request, and each upgrade, goes to the next
// backend in turn. `landed[i]` counts what backend i got.
async function roundRobin(backends) {
  let next = 0;
  const landed = backends.map(() => 0);
  const pick = () => {
    const i = next++ % backends.length;
    landed[i]++;
    return backends[i];
  };
  const server = http.createServer((req, res) => {
    const port = pick();
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(pick(), '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    const end = () => { upstream.destroy(); socket.destroy(); };
    upstream.on('error', end);
    socket.on('error', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    landed,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

async function twoNodesBehindTheBalancer() {
  const [n1, n2] = [await node(), await node()];
  const lb = await roundRobin([n1.port, n2.port]);
  return { n1, n2, lb };
}

function client(url, transports) {
  const socket = io(url, { auth: { sessionID: 'sa', userId: 'ua' }, transports, reconnection: false, forceNew: true });
  clients.push(socket);
  return socket;
}

async function connectionsOn(n) {
  return (await n.send('stats')).totalConnections;
}

test('long-polling works with every request landing on either node', async () => {
  const { n1, n2, lb } = await twoNodesBehindTheBalancer();
  try {
    const s = client(lb.url, ['polling']);
    await waitFor(s, 'connected', 5000);
    // Acks and pushes both ways, over many polls that alternate between the nodes.
    for (let i = 0; i < 6; i++) {
      const reply = await s.timeout(3000).emitWithAck('subscribe:watchlist', { symbols: [`S${i}`] });
      assert.equal(reply.success, true);
    }
    const owner = (await connectionsOn(n1)) === 1 ? n1 : n2;
    assert.equal((await connectionsOn(n1)) + (await connectionsOn(n2)), 1, 'one session, on its owner');
    const pushed = waitFor(s, 'trade:executed', 5000);
    await owner.send('emitToUser', { userId: 'ua', event: 'trade:executed', data: { id: 7 } });
    assert.deepEqual(await pushed, { id: 7 });
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.ok(lb.landed[0] >= 3 && lb.landed[1] >= 3, `requests landed on both nodes: ${lb.landed}`);
  } finally {
    for (const c of clients) c.close();
    await lb.close();
  }
});

test('the polling to WebSocket upgrade completes wherever the upgrade request lands', async () => {
  const { n1, n2, lb } = await twoNodesBehindTheBalancer();
  try {
    // Several clients, so upgrades land on the owner and on the other node.
    const sockets = [0, 1, 2, 3].map(() => client(lb.url, ['polling', 'websocket']));
    await Promise.all(sockets.map((s) => waitFor(s, 'connected', 5000)));
    await waitUntil(() => sockets.every((s) => s.io.engine.transport.name === 'websocket'), 5000);
    for (const s of sockets) {
      const reply = await s.timeout(3000).emitWithAck('subscribe:trades');
      assert.equal(reply.success, true);
    }
    const got = sockets.map(() => 0);
    sockets.forEach((s, i) => s.on('notice', () => got[i]++));
    await n1.send('emitToAll', { event: 'notice', data: 'all' });
    await waitUntil(() => got.every((n) => n === 1), 3000);
    assert.equal((await connectionsOn(n1)) + (await connectionsOn(n2)), sockets.length);
    await sleep(100);
    assert.deepEqual(got, [1, 1, 1, 1], 'each client once');
  } finally {
    for (const c of clients) c.close();
    await lb.close();
  }
});

// The same with the Node addon's Server API: two roomcast servers on Node http servers (the
// upgrade arrives as an adopted socket), clustered through createRedisAdapter.
test('the Node Server API: polling and the upgrade through the round-robin proxy', async () => {
  const { createRequire } = await import('node:module');
  const roomcast = createRequire(import.meta.url)('roomcast');
  const servers = [];
  for (let i = 0; i < 2; i++) {
    const httpServer = http.createServer();
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const io = new roomcast.Server(httpServer);
    io.adapter(roomcast.createRedisAdapter(redis.url, { key: 'no-sticky-addon' }));
    io.on('connection', (socket) => {
      socket.join('desk');
      socket.on('hello', (ack) => ack(`hello from ${i}`));
    });
    servers.push({ io, httpServer });
  }
  await waitUntil(async () => (await servers[0].io.of('/').adapter.serverCount()) === 2, 5000);
  const lb = await roundRobin(servers.map((s) => s.httpServer.address().port));
  try {
    const sockets = [0, 1, 2, 3].map(() => {
      const s = io(lb.url, { transports: ['polling', 'websocket'], reconnection: false, forceNew: true });
      clients.push(s);
      return s;
    });
    await Promise.all(sockets.map((s) => waitFor(s, 'connect', 5000)));
    for (const s of sockets) assert.match(await s.timeout(3000).emitWithAck('hello'), /^hello from [01]$/);
    await waitUntil(() => sockets.every((s) => s.io.engine.transport.name === 'websocket'), 5000);
    const got = sockets.map(() => 0);
    sockets.forEach((s, i) => s.on('news', () => got[i]++));
    servers[0].io.to('desk').emit('news', 1);
    await waitUntil(() => got.every((n) => n === 1), 3000);
    await sleep(100);
    assert.deepEqual(got, [1, 1, 1, 1], 'each client once');
    assert.ok(lb.landed[0] > 0 && lb.landed[1] > 0, `requests landed on both servers: ${lb.landed}`);
  } finally {
    for (const c of clients) c.close();
    await lb.close();
    for (const { io: server } of servers) await new Promise((resolve) => server.close(() => resolve()));
  }
});

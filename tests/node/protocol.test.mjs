// The official socket.io-client 4.8 against the roomcast echo server: both transports, the
// upgrade, auth, events and acks both ways, binary, rooms, namespaces, heartbeat, reconnection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startEcho, waitFor, sleep } from './helpers.mjs';

let server;
const clients = [];

before(async () => {
  server = await startEcho(['--ping-interval', '300', '--ping-timeout', '200']);
});

after(async () => {
  for (const c of clients) c.close();
  await server.stop();
});

// Resolves when the engine completes a polling → websocket upgrade (listens from the start, so a
// fast upgrade is not missed).
function upgradeOf(socket) {
  return new Promise((resolve) => {
    socket.io.once('open', () => socket.io.engine.once('upgrade', (t) => resolve(t.name)));
  });
}

function connect(nsp = '/', opts = {}) {
  const socket = io(server.url + nsp, { reconnection: false, forceNew: true, ...opts });
  clients.push(socket);
  return socket;
}

for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']]) {
  const label = transports.join('+');

  test(`${label}: connects, receives auth, echoes events and acks`, async () => {
    const socket = connect('/', { transports, auth: { token: 'abc', n: 1 } });
    const auth = await waitFor(socket, 'auth');
    assert.deepEqual(auth, { token: 'abc', n: 1 });
    assert.ok(socket.id && socket.id.length === 20);

    socket.emit('message', 1, 'two', { three: [3] });
    const back = await waitFor(socket, 'message-back');
    assert.deepEqual(back, [1, 'two', { three: [3] }]);

    const acked = await socket.timeout(2000).emitWithAck('message-with-ack', 'x', { y: 2 });
    assert.deepEqual(acked, 'x'); // emitWithAck resolves with the first ack argument
    socket.close();
  });

  test(`${label}: server-side emit with ack gets the client's answer`, async () => {
    const socket = connect('/', { transports });
    await waitFor(socket, 'connect');
    socket.on('ack-me', (value, cb) => cb({ got: value }));
    socket.emit('server-ack', 42);
    const result = await waitFor(socket, 'server-ack-result');
    assert.deepEqual(result, { got: 42 });
    socket.close();
  });

  test(`${label}: binary round trip keeps the bytes`, async () => {
    const socket = connect('/', { transports });
    await waitFor(socket, 'connect');
    const payload = Buffer.from([0, 1, 2, 253, 254, 255]);
    socket.emit('message', payload, 'tail', { nested: Buffer.from('hi') });
    const [bin, tail, nested] = await waitFor(socket, 'message-back');
    assert.deepEqual(Buffer.from(bin), payload);
    assert.equal(tail, 'tail');
    assert.deepEqual(Buffer.from(nested.nested), Buffer.from('hi'));
    const acked = await socket.timeout(2000).emitWithAck('message-with-ack', Buffer.from([9, 8]));
    assert.deepEqual(Buffer.from(acked), Buffer.from([9, 8]));
    socket.close();
  });
}

test('polling session upgrades to websocket and keeps working', async () => {
  const socket = connect('/', { transports: ['polling', 'websocket'] });
  const upgraded = upgradeOf(socket);
  await waitFor(socket, 'connect');
  assert.equal(await upgraded, 'websocket');
  assert.equal(socket.io.engine.transport.name, 'websocket');
  socket.emit('message', 'after-upgrade');
  assert.equal(await waitFor(socket, 'message-back'), 'after-upgrade');
  socket.close();
});

test('messages sent during the upgrade are neither lost nor duplicated', async () => {
  const socket = connect('/', { transports: ['polling', 'websocket'] });
  const upgraded = upgradeOf(socket);
  await waitFor(socket, 'connect');
  const got = [];
  socket.on('message-back', (n) => got.push(n));
  for (let i = 0; i < 50; i++) {
    socket.emit('message', i);
    await sleep(2);
  }
  await upgraded;
  for (let i = 50; i < 100; i++) socket.emit('message', i);
  const deadline = Date.now() + 3000;
  while (got.length < 100 && Date.now() < deadline) await sleep(20);
  assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i));
  socket.close();
});

test('custom namespace works and an unknown namespace is refused', async () => {
  const custom = connect('/custom', { transports: ['websocket'], auth: { a: 1 } });
  assert.deepEqual(await waitFor(custom, 'auth'), { a: 1 });
  custom.emit('message', 'c');
  assert.equal(await waitFor(custom, 'message-back'), 'c');

  const unknown = connect('/nope', { transports: ['websocket'] });
  const err = await waitFor(unknown, 'connect_error');
  assert.equal(err.message, 'Invalid namespace');
  custom.close();
  unknown.close();
});

test('two namespaces share one connection', async () => {
  const main = connect('/', { transports: ['websocket'], forceNew: true });
  await waitFor(main, 'connect');
  const custom = main.io.socket('/custom');
  custom.connect();
  await waitFor(custom, 'connect');
  assert.equal(main.io.engine.id, custom.io.engine.id);
  custom.emit('message', 'from-custom');
  assert.equal(await waitFor(custom, 'message-back'), 'from-custom');
  custom.disconnect();
  main.emit('message', 'main-still-up');
  assert.equal(await waitFor(main, 'message-back'), 'main-still-up');
  main.close();
});

test('middleware accepts a good token and rejects a bad one with connect_error', async () => {
  const good = connect('/private', { transports: ['websocket'], auth: { token: 'secret' } });
  await waitFor(good, 'welcome');
  const bad = connect('/private', { transports: ['polling'], auth: { token: 'wrong' } });
  const err = await waitFor(bad, 'connect_error');
  assert.equal(err.message, 'UNAUTHORIZED: bad token');
  assert.deepEqual(err.data, { code: 'UNAUTHORIZED' });
  good.close();
  bad.close();
});

test('room emits reach members only', async () => {
  const [a, b, c] = [connect(), connect(), connect()];
  await Promise.all([a, b, c].map((s) => waitFor(s, 'connect')));
  a.emit('join', 'watchlist:AAPL');
  b.emit('join', 'watchlist:AAPL');
  c.emit('join', 'watchlist:MSFT');
  // Packets of one client are handled in order: once an ack comes back, its join was applied
  // (a client still upgrading buffers its emits, so a fixed sleep could be too short).
  const applied = (sockets) => Promise.all(sockets.map((s) => s.timeout(3000).emitWithAck('message-with-ack', 'sync')));
  await applied([a, b, c]);
  const seen = { a: [], b: [], c: [] };
  a.on('quote', (q) => seen.a.push(q));
  b.on('quote', (q) => seen.b.push(q));
  c.on('quote', (q) => seen.c.push(q));
  c.emit('emit-to-room', { room: 'watchlist:AAPL', event: 'quote', data: { symbol: 'AAPL', price: 185.5 } });
  await sleep(200);
  assert.deepEqual(seen.a, [{ symbol: 'AAPL', price: 185.5 }]);
  assert.deepEqual(seen.b, [{ symbol: 'AAPL', price: 185.5 }]);
  assert.deepEqual(seen.c, []);
  b.emit('leave', 'watchlist:AAPL');
  await applied([b]);
  c.emit('emit-to-room', { room: 'watchlist:AAPL', event: 'quote', data: 2 });
  await sleep(200);
  assert.deepEqual(seen.a.length, 2);
  assert.deepEqual(seen.b.length, 1);
  for (const s of [a, b, c]) s.close();
});

test('heartbeat keeps an answering client connected across many ping intervals', async () => {
  const socket = connect('/', { transports: ['websocket'] });
  await waitFor(socket, 'connect');
  let pings = 0;
  socket.io.engine.on('ping', () => pings++);
  let disconnected = false;
  socket.on('disconnect', () => (disconnected = true));
  await sleep(1500);
  assert.equal(disconnected, false);
  assert.ok(pings >= 3, `expected pings, got ${pings}`);
  socket.close();
});

test('reconnects after the server restarts on the same port', async () => {
  const own = await startEcho(['--ping-interval', '300', '--ping-timeout', '200']);
  const socket = io(own.url, {
    transports: ['websocket'],
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    forceNew: true,
  });
  clients.push(socket);
  await waitFor(socket, 'connect');
  const firstId = socket.id;
  const disconnected = waitFor(socket, 'disconnect');
  await own.stop();
  const [reason] = await disconnected;
  assert.equal(reason, 'transport close');
  const again = await startEcho(['--ping-interval', '300', '--ping-timeout', '200'], own.port);
  await waitFor(socket, 'connect', 5000);
  assert.notEqual(socket.id, firstId);
  socket.emit('message', 'back');
  assert.equal(await waitFor(socket, 'message-back'), 'back');
  socket.close();
  await again.stop();
});

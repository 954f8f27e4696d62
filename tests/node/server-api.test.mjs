// socket.io's server API, tested once and run against both servers: the real `Server` from the
// `socket.io` package and roomcast's `Server` (`require('roomcast').Server`), each attached to a
// plain http.Server, driven by the official socket.io-client. A body that passes on socket.io
// and fails on roomcast is a roomcast bug.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { Server as SocketIoServer } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { waitFor, sleep } from './helpers.mjs';

const require = createRequire(import.meta.url);
const roomcast = require('roomcast');

const SERVERS = { 'socket.io': SocketIoServer, roomcast: roomcast.Server };
const open = [];
after(async () => {
  for (const close of open.reverse()) await close();
});

async function boot(ServerClass, opts = {}) {
  const httpServer = http.createServer();
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const io = new ServerClass(httpServer, opts);
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  const clients = [];
  const client = (nsp = '', options = {}) => {
    const c = connect(`${url}${nsp}`, { transports: ['websocket'], forceNew: true, reconnection: false, ...options });
    clients.push(c);
    return c;
  };
  const close = async () => {
    for (const c of clients) c.close();
    await new Promise((resolve) => io.close(() => resolve()));
  };
  open.push(close);
  return { io, client, url };
}

function parity(name, body) {
  for (const [label, ServerClass] of Object.entries(SERVERS)) {
    test(`${label}: ${name}`, () => body(ServerClass));
  }
}

parity('connection: socket id, handshake, an event with an ack', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const seen = new Promise((resolve) => io.on('connection', resolve));
  const c = client('', { auth: { token: 't1' }, query: { room: 'r1' } });
  const connected = waitFor(c, 'connect');
  const socket = await seen;
  await connected;
  assert.equal(socket.id, c.id);
  assert.equal(socket.handshake.auth.token, 't1');
  assert.equal(socket.handshake.query.room, 'r1');
  assert.equal(typeof socket.handshake.headers, 'object');
  assert.equal(socket.recovered, false);
  assert.equal(socket.conn.transport.name, 'websocket');
  socket.on('add', (a, b, ack) => ack({ sum: a + b }));
  assert.deepEqual(await c.timeout(2000).emitWithAck('add', 2, 3), { sum: 5 });
});

parity('rooms: join, to, except, socket.to excludes the sender, leave', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const sockets = [];
  io.on('connection', (s) => sockets.push(s));
  const [a, b, c] = [client(), client(), client()];
  await Promise.all([a, b, c].map((x) => waitFor(x, 'connect')));
  while (sockets.length < 3) await sleep(5);
  const byId = (x) => sockets.find((s) => s.id === x.id);
  byId(a).join('room1');
  byId(b).join(['room1', 'room2']);
  assert.deepEqual([...byId(b).rooms].sort(), [b.id, 'room1', 'room2'].sort());
  const got = { a: [], b: [], c: [] };
  for (const [k, x] of Object.entries({ a, b, c })) x.on('news', (v) => got[k].push(v));
  io.to('room1').emit('news', 1);
  io.to('room1').except('room2').emit('news', 2);
  byId(a).to('room1').emit('news', 3);
  io.emit('news', 4);
  byId(b).leave('room1');
  io.in('room1').emit('news', 5);
  await sleep(200);
  assert.deepEqual(got, { a: [1, 2, 4, 5], b: [1, 3, 4], c: [4] });
});

parity('middleware: next(err) reaches connect_error with its data; socket.data carries over', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  io.use((socket, next) => {
    if (socket.handshake.auth.token !== 'ok') {
      const err = new Error('not authorized');
      err.data = { code: 'E_AUTH' };
      return next(err);
    }
    socket.data.user = 'alice';
    next();
  });
  const refused = client('', { auth: { token: 'bad' } });
  const error = await waitFor(refused, 'connect_error');
  assert.equal(error.message, 'not authorized');
  assert.deepEqual(error.data, { code: 'E_AUTH' });
  const seen = new Promise((resolve) => io.on('connection', resolve));
  client('', { auth: { token: 'ok' } });
  assert.deepEqual((await seen).data, { user: 'alice' });
});

parity('disconnect: server side, client side, and disconnecting sees the rooms', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const sockets = [];
  io.on('connection', (s) => sockets.push(s));
  const a = client();
  const b = client();
  await Promise.all([waitFor(a, 'connect'), waitFor(b, 'connect')]);
  while (sockets.length < 2) await sleep(5);
  const [sa, sb] = [a, b].map((x) => sockets.find((s) => s.id === x.id));
  sa.join('desk');
  const disconnecting = new Promise((resolve) => sa.on('disconnecting', (reason) => resolve([reason, [...sa.rooms]])));
  const clientSaw = waitFor(a, 'disconnect').then(([reason]) => reason);
  sa.disconnect();
  assert.equal(await clientSaw, 'io server disconnect');
  const [reason, rooms] = await disconnecting;
  assert.equal(reason, 'server namespace disconnect');
  assert.ok(rooms.includes('desk'));
  const serverSaw = new Promise((resolve) => sb.on('disconnect', resolve));
  b.disconnect();
  assert.equal(await serverSaw, 'client namespace disconnect');
});

parity('namespaces: of(name) has its own connections; an unknown one is refused', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const admin = io.of('/admin');
  const seen = new Promise((resolve) => admin.on('connection', resolve));
  const c = client('/admin');
  const got = [];
  c.on('hello', (v) => got.push(v));
  const connected = waitFor(c, 'connect');
  const socket = await seen;
  assert.equal(socket.nsp.name, '/admin');
  await connected;
  admin.emit('hello', 'admins');
  io.emit('hello', 'main');
  const unknown = client('/nowhere');
  assert.equal((await waitFor(unknown, 'connect_error')).message, 'Invalid namespace');
  await sleep(100);
  assert.deepEqual(got, ['admins']);
});

parity('dynamic namespaces: of(RegExp) and of(fn) create namespaces on demand, with their middlewares', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const desks = io.of(/^\/desk-\d+$/);
  desks.use((socket, next) => (socket.handshake.auth.ok ? next() : next(new Error('closed desk'))));
  const seen = new Promise((resolve) => desks.on('connection', resolve));
  const c = client('/desk-7', { auth: { ok: true } });
  const connected = waitFor(c, 'connect');
  const socket = await seen;
  await connected;
  assert.equal(socket.nsp.name, '/desk-7');
  const got = waitFor(c, 'tick');
  socket.nsp.emit('tick', 1);
  assert.equal(await got, 1);
  assert.equal((await waitFor(client('/desk-8', { auth: {} }), 'connect_error')).message, 'closed desk');
  assert.equal((await waitFor(client('/other'), 'connect_error')).message, 'Invalid namespace');
  io.of((name, auth, next) => next(null, name === '/by-fn'));
  await waitFor(client('/by-fn'), 'connect');
});

parity('payloads of every JSON type and binary arguments both ways, in emits and acks', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const seen = new Promise((resolve) => io.on('connection', resolve));
  const c = client();
  const socket = await seen;
  const values = [null, true, 0, -1.5, 'text', [1, [2]], { a: { b: 'c' } }];
  const echoed = new Promise((resolve) => socket.on('echo', (...args) => resolve(args)));
  c.emit('echo', ...values, Buffer.from([1, 2, 3]));
  const args = await echoed;
  assert.deepEqual(args.slice(0, values.length), values);
  assert.ok(Buffer.isBuffer(args[values.length]));
  assert.deepEqual([...args[values.length]], [1, 2, 3]);
  const received = waitFor(c, 'values');
  socket.emit('values', { list: values });
  assert.deepEqual(await received, { list: values });
  const binary = waitFor(c, 'binary');
  socket.emit('binary', Buffer.from([4, 5]), { nested: new Uint8Array([6]) });
  const [buffer, { nested }] = await binary;
  assert.deepEqual([...buffer], [4, 5]);
  assert.deepEqual([...new Uint8Array(nested)], [6]);
  c.on('bin-ack', (ack) => ack(Buffer.from([7, 8])));
  const reply = await socket.timeout(2000).emitWithAck('bin-ack');
  assert.deepEqual([...reply], [7, 8]);
});

parity('fetchSockets, socketsJoin and disconnectSockets on this node', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const a = client();
  const b = client();
  await Promise.all([waitFor(a, 'connect'), waitFor(b, 'connect')]);
  await sleep(50);
  assert.deepEqual((await io.fetchSockets()).map((s) => s.id).sort(), [a.id, b.id].sort());
  io.in(a.id).socketsJoin('vip');
  assert.deepEqual((await io.in('vip').fetchSockets()).map((s) => s.id), [a.id]);
  const gone = waitFor(a, 'disconnect').then(([reason]) => reason);
  io.in('vip').disconnectSockets();
  assert.equal(await gone, 'io server disconnect');
  assert.equal(b.connected, true);
});

parity('acks from the server: an ack callback, timeout and emitWithAck', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const seen = new Promise((resolve) => io.on('connection', resolve));
  const c = client();
  c.on('double', (n, ack) => ack(n * 2));
  c.on('silent', () => {});
  const connected = waitFor(c, 'connect');
  const socket = await seen;
  await connected;
  assert.equal(await new Promise((resolve) => socket.emit('double', 21, resolve)), 42);
  assert.equal(await socket.emitWithAck('double', 5), 10);
  assert.deepEqual(await new Promise((resolve) => socket.timeout(2000).emit('double', 1, (...r) => resolve(r))), [null, 2]);
  const late = await new Promise((resolve) => socket.timeout(100).emit('silent', resolve));
  assert.ok(late instanceof Error);
  await assert.rejects(socket.timeout(100).emitWithAck('silent'), Error);
});

parity('onAny, onAnyOutgoing, socket.use and a volatile emit', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const seen = new Promise((resolve) => io.on('connection', resolve));
  const c = client();
  const connected = waitFor(c, 'connect');
  const socket = await seen;
  await connected;
  const incoming = [];
  const outgoing = [];
  socket.onAny((event, ...args) => incoming.push([event, ...args]));
  socket.onAnyOutgoing((event, ...args) => outgoing.push([event, ...args]));
  socket.use(([event], next) => (event === 'forbidden' ? next(new Error('not allowed')) : next()));
  const refused = new Promise((resolve) => socket.on('error', resolve));
  const handled = new Promise((resolve) => socket.on('order', resolve));
  c.emit('forbidden', 1);
  c.emit('order', { id: 7 });
  assert.deepEqual(await handled, { id: 7 });
  assert.equal((await refused).message, 'not allowed');
  assert.deepEqual(incoming, [['forbidden', 1], ['order', { id: 7 }]]);
  const got = waitFor(c, 'tick');
  socket.volatile.emit('tick', 1);
  assert.equal(await got, 1);
  assert.deepEqual(outgoing, [['tick', 1]]);
});

parity('acks from many: io.timeout(ms).emit collects the replies, a silent client sets err', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  const [a, b, c] = [client(), client(), client()];
  a.on('vote', (ack) => ack('a'));
  b.on('vote', (ack) => ack('b'));
  c.on('vote', () => {});
  await Promise.all([a, b, c].map((x) => waitFor(x, 'connect')));
  await sleep(50);
  const [err, responses] = await new Promise((resolve) => io.timeout(300).emit('vote', (...r) => resolve(r)));
  assert.ok(err instanceof Error);
  assert.deepEqual(responses.sort(), ['a', 'b']);
  c.on('vote', (ack) => ack('c'));
  assert.deepEqual((await io.timeout(2000).emitWithAck('vote')).sort(), ['a', 'b', 'c']);
});

parity('allowRequest refuses a handshake; transports limits what clients may use', async (ServerClass) => {
  const { client, url } = await boot(ServerClass, {
    allowRequest: (req, callback) => callback(null, req.headers['x-desk'] !== 'closed'),
    transports: ['websocket'],
  });
  const polling = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(polling.status, 400);
  assert.deepEqual(await polling.json(), { code: 0, message: 'Transport unknown' });
  const refused = client('', { extraHeaders: { 'x-desk': 'closed' } });
  assert.ok((await waitFor(refused, 'connect_error')) instanceof Error);
  const allowed = client('', { extraHeaders: { 'x-desk': 'open' } });
  await waitFor(allowed, 'connect');
});

parity('recovery: socket.data set in handlers comes back with the recovered socket', async (ServerClass) => {
  const { io, client } = await boot(ServerClass, { connectionStateRecovery: { maxDisconnectionDuration: 5000 } });
  io.on('connection', (socket) => {
    if (!socket.recovered) socket.data.desk = 'fx';
    socket.on('tag', (tag, ack) => {
      socket.data.tag = tag;
      ack();
    });
    socket.on('data?', (ack) => ack(socket.data));
  });
  const c = client('', { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 100, randomizationFactor: 0 });
  await waitFor(c, 'connect');
  await c.timeout(2000).emitWithAck('tag', 'blue');
  const tick = waitFor(c, 'tick');
  io.emit('tick', 1); // the client's last offset
  await tick;
  const back = waitFor(c, 'connect', 5000);
  c.io.engine.close();
  await back;
  assert.equal(c.recovered, true);
  assert.deepEqual(await c.timeout(2000).emitWithAck('data?'), { desk: 'fx', tag: 'blue' });
});

parity('events reach listeners added at any time; an event nothing listens to is dropped', async (ServerClass) => {
  const { io, client } = await boot(ServerClass);
  let socket;
  io.on('connection', (s) => {
    s.on('early', (ack) => ack('early'));
    socket = s;
  });
  const c = client();
  await waitFor(c, 'connect');
  while (!socket) await sleep(5);
  assert.equal(await c.timeout(2000).emitWithAck('early'), 'early');
  await assert.rejects(c.timeout(300).emitWithAck('unheard'), /timed out/);
  socket.on('later', (ack) => ack('later'));
  assert.equal(await c.timeout(2000).emitWithAck('later'), 'later');
  const seen = [];
  socket.onAny((name) => seen.push(name));
  c.emit('only-any');
  await sleep(200);
  assert.deepEqual(seen, ['only-any']);
});

parity('io.engine reports refused requests as connection_error', async (ServerClass) => {
  const { io, url } = await boot(ServerClass);
  const reported = new Promise((resolve) => io.engine.on('connection_error', resolve));
  const res = await fetch(`${url}/socket.io/?EIO=3&transport=polling`);
  assert.equal(res.status, 400);
  const err = await reported;
  assert.equal(err.code, 5);
  assert.equal(err.message, 'Unsupported protocol version');
  assert.equal(err.req.url, '/socket.io/?EIO=3&transport=polling');
  assert.equal(err.req.method, 'GET');
});

test('roomcast: an option the engine does not offer is refused by name, not ignored', () => {
  assert.throws(() => new roomcast.Server({ parser: {} }), /option "parser" is not supported/);
  assert.throws(() => new roomcast.Server({ adapter: {} }), /adapter must come from createRedisAdapter/);
  assert.throws(() => new roomcast.Server({ cors: { origin: () => true } }), /cors.origin must be true, "\*", an origin or a list of origins/);
});

// A feed emitting one at a time, the event loop turning between emits: with write coalescing
// on (the default, 1 ms; and a wider window) and off, every tick arrives, once and in order, and
// a lone emit after a quiet spell arrives too (nothing is left parked).
for (const writeCoalesce of [undefined, 0, 20]) {
  test(`roomcast: a one-at-a-time feed arrives whole and in order (writeCoalesce ${writeCoalesce ?? 'default'})`, async () => {
    const { io, client } = await boot(roomcast.Server, writeCoalesce === undefined ? {} : { writeCoalesce });
    const joined = new Promise((resolve) => io.on('connection', (socket) => { socket.join('feed'); resolve(); }));
    const clients = [client(), client()];
    await Promise.all(clients.map((c) => waitFor(c, 'connect')));
    await joined;
    await sleep(50);
    const got = clients.map((c) => {
      const ticks = [];
      c.on('tick', (n) => ticks.push(n));
      return ticks;
    });
    for (let n = 0; n < 300; n++) {
      io.to('feed').emit('tick', n);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Array.from({ length: 300 }, (_, n) => n);
    const deadline = Date.now() + 5000;
    while (got.some((t) => t.length < 300) && Date.now() < deadline) await sleep(10);
    for (const ticks of got) assert.deepEqual(ticks, expected);
    await sleep(100);
    const last = clients.map((c) => waitFor(c, 'tick'));
    io.to('feed').emit('tick', 'after a pause');
    assert.deepEqual(await Promise.all(last), ['after a pause', 'after a pause']);
  });
}

// Drop-in behaviours socket.io's own server suite checks, each as one body run against the real
// `socket.io` Server and roomcast's: how a server listens and closes, the client bundle, CORS,
// paths under the endpoint, volatile emits, reserved names, namespaces, middlewares, protocol
// violations, `socket.request`, recovery of emits made while the client was away.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { Server as SocketIoServer } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { waitFor, sleep } from './helpers.mjs';

const require = createRequire(import.meta.url);
const roomcast = require('roomcast');

const SERVERS = { 'socket.io': SocketIoServer, roomcast: roomcast.Server };
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function parity(name, body) {
  for (const [label, ServerClass] of Object.entries(SERVERS)) {
    test(`${label}: ${name}`, () => body(ServerClass));
  }
}

const portOf = (io) => io.httpServer.address().port;

// `new Server(0, opts)`, with its clients closed after the test.
function serve(ServerClass, opts) {
  const io = new ServerClass(0, opts);
  const clients = [];
  const client = (nsp = '', options = {}) => {
    const c = connect(`http://localhost:${portOf(io)}${nsp}`, { forceNew: true, reconnection: false, ...options });
    clients.push(c);
    return c;
  };
  cleanups.push(async () => {
    for (const c of clients) c.close();
    await io.close();
  });
  return { io, client, url: `http://localhost:${portOf(io)}` };
}

// Raw Engine.IO polling, as socket.io's suite drives a server to see its exact answers.
async function eioHandshake(url) {
  const body = await (await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).text();
  return JSON.parse(body.slice(1)).sid;
}
const eioPush = (url, sid, body) => fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body });
const eioPoll = async (url, sid) => (await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`)).text();

parity('new Server(port) serves on io.httpServer; close() frees the port', async (ServerClass) => {
  const io = new ServerClass(0);
  const port = portOf(io);
  assert.ok(io.httpServer instanceof http.Server);
  assert.equal((await fetch(`http://localhost:${port}/elsewhere`)).status, 404);
  const client = connect(`http://localhost:${port}`, { reconnection: false, transports: ['websocket'] });
  await waitFor(client, 'connect');
  const reason = waitFor(client, 'disconnect');
  await io.close();
  // The client's transport closes (it would reconnect), and the port is free again.
  assert.equal([await reason].flat()[0], 'transport close');
  const again = net.createServer();
  await new Promise((resolve, reject) => again.once('error', reject).listen(port, resolve));
  await new Promise((resolve) => again.close(resolve));
  client.close();
});

parity('close(callback) reports a server that was not running', async (ServerClass) => {
  const io = new ServerClass(http.createServer());
  const error = await new Promise((resolve) => io.close(resolve));
  assert.equal(error.code, 'ERR_SERVER_NOT_RUNNING');
});

parity('the client bundle: types, ETag, 304, encodings; other files under the path are Engine.IO requests', async (ServerClass) => {
  const { url } = serve(ServerClass);
  for (const [file, type] of [['socket.io.min.js', 'application/javascript'], ['socket.io.esm.min.js.map', 'application/json']]) {
    const res = await fetch(`${url}/socket.io/${file}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), `${type}; charset=utf-8`);
    assert.match(res.headers.get('etag'), /^"[^"]+"$/);
    assert.match(await res.text(), /engine\.io/);
  }
  const etag = (await fetch(`${url}/socket.io/socket.io.js`)).headers.get('etag');
  assert.equal((await fetch(`${url}/socket.io/socket.io.js`, { headers: { 'if-none-match': `W/${etag}` } })).status, 304);
  const res = await fetch(`${url}/socket.io/socket.io.js`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(res.headers.get('content-encoding'), 'br');
  assert.match(await res.text(), /engine\.io/); // fetch decodes it
  assert.equal((await fetch(`${url}/socket.io/socket.io.esm.js`)).status, 400);
});

parity('serveClient: false leaves the bundle out', async (ServerClass) => {
  const { url } = serve(ServerClass, { serveClient: false });
  assert.equal((await fetch(`${url}/socket.io/socket.io.js`)).status, 400);
});

parity('cors: preflight and answers carry the configured headers', async (ServerClass) => {
  const origin = 'http://localhost:54023';
  const { url } = serve(ServerClass, { cors: { origin, methods: ['GET', 'POST'], allowedHeaders: ['content-type'], credentials: true } });
  const preflight = await fetch(`${url}/socket.io/default/?EIO=4&transport=polling`, { method: 'OPTIONS', headers: { origin } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET,POST');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type');
  assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
  const get = await fetch(`${url}/socket.io/default/?EIO=4&transport=polling`, { headers: { origin } });
  assert.equal(get.status, 200);
  assert.match(await get.text(), /^0\{"sid"/);
  assert.equal(get.headers.get('access-control-allow-origin'), origin);
  const bundle = await fetch(`${url}/socket.io/socket.io.js`, { headers: { origin } });
  assert.equal(bundle.headers.get('access-control-allow-origin'), origin);
});

for (const transport of ['polling', 'websocket']) {
  parity(`volatile: dropped while the transport is busy with a regular emit (${transport})`, async (ServerClass) => {
    const { io, client } = serve(ServerClass);
    let count = 0;
    io.on('connection', (socket) => {
      setTimeout(() => {
        socket.emit('ev', 1);
        socket.volatile.emit('ev', 2);
        io.volatile.emit('ev', 3);
      }, 50);
    });
    const c = client('', { transports: [transport] });
    c.on('ev', () => count++);
    await waitFor(c, 'connect');
    await sleep(400);
    assert.equal(count, 1);
  });
}

parity('emitting a reserved event name throws', async (ServerClass) => {
  const { io } = serve(ServerClass);
  for (const name of ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']) {
    assert.throws(() => io.emit(name), new RegExp(`"${name}" is a reserved event name`));
    assert.throws(() => io.to('room').emit(name), /is a reserved event name/);
  }
});

parity('of(name, fn) listens for connect; new_namespace announces namespaces, dynamic ones too', async (ServerClass) => {
  const { io, client } = serve(ServerClass);
  const created = [];
  io.on('new_namespace', (nsp) => created.push(nsp.name));
  const connected = new Promise((resolve) => io.of('/chat', resolve));
  const parent = io.of(/^\/dyn-\d+$/);
  parent.on('connection', (socket) => {
    socket.join('room');
    parent.to('room').emit('hello', socket.nsp.name);
  });
  client('/chat');
  await connected;
  const dyn = client('/dyn-7');
  assert.equal(await waitFor(dyn, 'hello'), '/dyn-7');
  assert.deepEqual(created, ['/chat', '/dyn-7']);
});

parity('a middleware gets the socket of connection: its id, what it set, in order', async (ServerClass) => {
  const { io, client } = serve(ServerClass);
  const order = [];
  let idInMiddleware;
  io.use((socket, next) => {
    order.push(1);
    idInMiddleware = socket.id;
    socket.user = { name: 'guillermo' };
    next();
  });
  io.use((socket, next) => {
    order.push(2);
    assert.equal(socket.nsp.name, '/');
    assert.equal(typeof socket.join, 'function');
    next();
  });
  const seen = new Promise((resolve) => io.on('connection', resolve));
  client();
  const socket = await seen;
  assert.deepEqual(order, [1, 2]);
  assert.equal(socket.id, idInMiddleware);
  assert.equal(socket.user.name, 'guillermo');
});

parity('socket.request: the handshake request with its url and query', async (ServerClass) => {
  const { io, client } = serve(ServerClass);
  const seen = new Promise((resolve) => io.on('connection', resolve));
  client('', { query: { key1: 1 } });
  const socket = await seen;
  const query = new URL(socket.request.url, 'http://x').searchParams;
  assert.equal(query.get('key1'), '1');
  assert.equal(typeof socket.request.headers, 'object');
});

for (const [label, first, second] of [
  ['an EVENT before CONNECT', '42["ev"]', null],
  ['an invalid packet', '40', '4abc'],
]) {
  parity(`a protocol violation (${label}) closes the session cleanly`, async (ServerClass) => {
    const { url } = serve(ServerClass);
    const sid = await eioHandshake(url);
    await eioPush(url, sid, first);
    if (second) await eioPush(url, sid, second);
    let body = await eioPoll(url, sid);
    if (body.startsWith('40')) body = await eioPoll(url, sid);
    assert.equal(body, '6\x1e1');
  });
}

parity('onAnyOutgoing hears broadcasts that address the socket', async (ServerClass) => {
  const { io, client } = serve(ServerClass);
  const heard = new Promise((resolve) => {
    io.on('connection', (socket) => {
      socket.onAnyOutgoing((event, arg) => resolve([event, arg]));
      io.emit('my-event', '123');
    });
  });
  client();
  assert.deepEqual(await heard, ['my-event', '123']);
});

parity('recovery: an emit on the socket while its client is away arrives when it recovers', async (ServerClass) => {
  const { io, url } = serve(ServerClass, { connectionStateRecovery: {} });
  let serverSocket;
  io.once('connection', (socket) => {
    serverSocket = socket;
  });
  const sid = await eioHandshake(url);
  await eioPush(url, sid, '40');
  const connected = await eioPoll(url, sid);
  const { pid } = JSON.parse(connected.slice(2));
  io.emit('offset-probe');
  const probe = await eioPoll(url, sid);
  const offset = JSON.parse(probe.slice(2))[1];
  await eioPush(url, sid, '1');
  await sleep(50);
  serverSocket.emit('while-away', 1);
  const newSid = await eioHandshake(url);
  await eioPush(url, newSid, `40{"pid":"${pid}","offset":"${offset}"}`);
  const packets = (await eioPoll(url, newSid)).split('\x1e');
  assert.ok(packets[0].startsWith('42["while-away",1'), packets.join(' | '));
  assert.ok(packets.at(-1).startsWith('40{"sid"'), packets.join(' | '));
});

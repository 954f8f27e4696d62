// Wire parity with Node socket.io 4.8 on the protocol's edges. Every body runs twice, once
// against the real `socket.io` server from npm (tests/node/reference-server.mjs) and once
// against the roomcast echo server with the same options, driving the exact wire sequence with
// raw HTTP and raw WebSockets (`ws`) where the client library would hide it, and the official
// socket.io-client elsewhere. A body that fails on socket.io is a wrong test; one that fails on
// roomcast only is a roomcast bug.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { startEcho, waitFor, sleep } from './helpers.mjs';
import { startReference, echoFlags } from './reference-server.mjs';

const running = [];
const clients = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of running) await s.stop();
});

async function startBoth(options) {
  const reference = await startReference(options);
  const roomcast = await startEcho(echoFlags(options));
  roomcast.name = 'roomcast';
  running.push(reference, roomcast);
  return [reference, roomcast];
}

// Declares `name` once per server; `body(server)` gets a started server with `options`.
function parity(name, options, body) {
  const servers = startBoth(options);
  for (const index of [0, 1]) {
    const label = index === 0 ? 'socket.io' : 'roomcast';
    test(`${name} [${label}]`, { timeout: 15_000 }, async () => body((await servers)[index]));
  }
}

// Slow heartbeats for the tests that are not about heartbeats: a raw polling client does not
// answer pings while it is busy with the sequence under test.
const SLOW = { pingInterval: 5000, pingTimeout: 5000 };

const eio = (server, query = '') => `${server.url}/socket.io/?EIO=4${query}`;

async function handshake(server, headers = {}) {
  const response = await fetch(eio(server, '&transport=polling'), { headers });
  const text = await response.text();
  return { status: response.status, text, open: response.ok ? JSON.parse(text.slice(1)) : null };
}

async function poll(server, sid) {
  const response = await fetch(eio(server, `&transport=polling&sid=${sid}`));
  return { status: response.status, body: await response.text() };
}

async function post(server, sid, body) {
  const response = await fetch(eio(server, `&transport=polling&sid=${sid}`), { method: 'POST', body });
  return { status: response.status, body: await response.text() };
}

// A raw WebSocket that answers Engine.IO pings and queues everything else.
function rawSocket(server, query, headers = {}) {
  const ws = new WebSocket(eio(server, `&transport=websocket${query}`).replace('http', 'ws'), { headers });
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const message = isBinary ? data : data.toString();
    if (message === '2') return ws.send('3');
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  return {
    ws,
    opened: new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    }),
    closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))),
    send: (data) => ws.send(data),
    next(timeoutMs = 2000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
        waiters.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
    },
  };
}

// A polling session joined to `/`; returns its sid.
async function pollingSocketIo(server) {
  const { open } = await handshake(server);
  assert.equal((await post(server, open.sid, '40')).body, 'ok');
  const reply = await poll(server, open.sid);
  assert.match(reply.body, /^40\{"sid":"[\w-]{20}"\}/);
  return open.sid;
}

async function probe(server, sid) {
  const socket = rawSocket(server, `&sid=${sid}`);
  await socket.opened;
  socket.send('2probe');
  assert.equal(await socket.next(), '3probe');
  return socket;
}

function client(server, opts = {}) {
  const socket = io(server.url + (opts.nsp ?? ''), { forceNew: true, transports: ['websocket'], ...opts });
  clients.push(socket);
  return socket;
}

// Cuts the transport under a client, as a network failure would.
async function cut(socket) {
  const dropped = waitFor(socket, 'disconnect');
  socket.io.engine.close();
  await dropped;
}

// --- Engine.IO --------------------------------------------------------------------------------

parity('polling: no pong by pingInterval + pingTimeout closes the session, even if the ping was never collected', {}, async (server) => {
  const { open } = await handshake(server);
  await sleep(300 + 200 + 20);
  const late = await poll(server, open.sid);
  assert.equal(late.status, 400);
  assert.deepEqual(JSON.parse(late.body), { code: 1, message: 'Session ID unknown' });
});

parity('polling: a close packet from the client releases the pending GET with a noop', SLOW, async (server) => {
  const { open } = await handshake(server);
  const pending = poll(server, open.sid);
  await sleep(50);
  assert.deepEqual(await post(server, open.sid, '1'), { status: 200, body: 'ok' });
  assert.deepEqual(await pending, { status: 200, body: '6' });
  assert.equal((await poll(server, open.sid)).status, 400);
});

parity('upgrade: a second WebSocket for an upgraded sid is opened, then closed; the session goes on', SLOW, async (server) => {
  const sid = await pollingSocketIo(server);
  const first = await probe(server, sid);
  first.send('5');
  const second = rawSocket(server, `&sid=${sid}`);
  await second.opened; // the handshake completes (101) ...
  await second.closed; // ... then the server closes it
  first.send('42["message","still here"]');
  assert.equal(await first.next(), '42["message-back","still here"]');
  first.ws.close();
});

parity('upgrade: a WebSocket arriving while another one upgrades that sid is closed', SLOW, async (server) => {
  const sid = await pollingSocketIo(server);
  const first = rawSocket(server, `&sid=${sid}`);
  await first.opened;
  await sleep(30);
  const second = rawSocket(server, `&sid=${sid}`);
  await second.opened;
  await second.closed;
  first.send('2probe');
  assert.equal(await first.next(), '3probe');
  first.send('5');
  first.send('42["message","upgraded"]');
  assert.equal(await first.next(), '42["message-back","upgraded"]');
  first.ws.close();
});

parity('upgrade: polling keeps delivering until the upgrade completes; an idle poll is released with a noop', SLOW, async (server) => {
  const sid = await pollingSocketIo(server);
  const socket = await probe(server, sid);
  assert.equal((await post(server, sid, '42["message","during"]')).body, 'ok');
  assert.deepEqual(await poll(server, sid), { status: 200, body: '42["message-back","during"]' });
  assert.deepEqual(await poll(server, sid), { status: 200, body: '6' });
  socket.send('5');
  socket.send('42["message","after"]');
  assert.equal(await socket.next(), '42["message-back","after"]');
  assert.equal((await poll(server, sid)).status, 400);
  socket.ws.close();
});

parity('allowUpgrades: false offers no upgrade in the open packet', { ...SLOW, noUpgrades: true }, async (server) => {
  const { open } = await handshake(server);
  assert.deepEqual(open.upgrades, []);
  assert.deepEqual(Object.keys(open), ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload']);
});

test('allowUpgrades: false refuses an upgrade attempt [roomcast]', async () => {
  // Node still accepts the WebSocket when a client ignores the empty `upgrades`; roomcast
  // refuses it, so a deployment that turned upgrades off never sees one.
  const server = await startEcho(echoFlags({ ...SLOW, noUpgrades: true }));
  running.push(server);
  const { open } = await handshake(server);
  const attempt = rawSocket(server, `&sid=${open.sid}`);
  await assert.rejects(attempt.opened, (error) => error.status === 400);
  const socket = client(server, { transports: ['polling', 'websocket'] });
  await waitFor(socket, 'connect');
  socket.emit('message', 'polling only');
  assert.deepEqual(await waitFor(socket, 'message-back'), 'polling only');
  assert.equal(socket.io.engine.transport.name, 'polling');
});

parity('allowRequest: the hook refuses a handshake with 403 and its message, on both transports', { ...SLOW, denyHeader: 'x-deny' }, async (server) => {
  const refused = await handshake(server, { 'x-deny': 'go away' });
  assert.equal(refused.status, 403);
  assert.deepEqual(JSON.parse(refused.text), { code: 4, message: 'go away' });
  // Node answers a refused WebSocket handshake 400 with the message as text; roomcast answers
  // 403 with the same Engine.IO error JSON as on polling. Both refuse it before any session.
  const ws = rawSocket(server, '', { 'x-deny': 'not you' });
  await assert.rejects(ws.opened, (error) => error.status === (server.name === 'roomcast' ? 403 : 400));
  assert.equal((await handshake(server)).status, 200);
  const accepted = rawSocket(server, '');
  await accepted.opened;
  assert.match(await accepted.next(), /^0\{"sid"/);
  accepted.ws.close();
});

// --- Socket.IO --------------------------------------------------------------------------------

for (const [what, marker] of [
  ['past the attachments', '{"_placeholder":true,"num":5}'],
  ['negative', '{"_placeholder":true,"num":-1}'],
]) {
  parity(`binary: a placeholder ${what} closes the connection`, SLOW, async (server) => {
    const socket = rawSocket(server, '');
    await socket.opened;
    assert.match(await socket.next(), /^0/);
    socket.send('40');
    assert.match(await socket.next(), /^40\{"sid"/);
    socket.send(`451-["message",${marker}]`);
    socket.send(Buffer.from([1, 2, 3]));
    await socket.closed;
  });
}

test('binary: a non-integer placeholder, or one with extra or wrong-typed fields, closes the connection [roomcast]', async () => {
  // Stricter than Node, which accepts `num: 0.5` (as a missing buffer), ignores extra fields and
  // treats a non-boolean `_placeholder` as data: a marker that is not exactly a placeholder can
  // never stand for an attachment.
  const server = await startEcho(echoFlags(SLOW));
  running.push(server);
  for (const marker of [
    '{"_placeholder":true,"num":0.5}',
    '{"_placeholder":true,"num":0,"x":1}',
    '{"_placeholder":"true","num":0}',
  ]) {
    const socket = rawSocket(server, '');
    await socket.opened;
    await socket.next();
    socket.send('40');
    await socket.next();
    socket.send(`451-["message",${marker}]`);
    socket.send(Buffer.from([1]));
    await socket.closed;
  }
});

parity('rooms: to(socket.id) reaches that socket', SLOW, async (server) => {
  const target = client(server);
  const sender = client(server);
  await Promise.all([waitFor(target, 'connect'), waitFor(sender, 'connect')]);
  assert.equal(await target.emitWithAck('whoami'), target.id);
  sender.emit('emit-to-room', { room: target.id, event: 'direct', data: { n: 1 } });
  assert.deepEqual(await waitFor(target, 'direct'), { n: 1 });
});

// Reconnects 300 ms after a cut: time for the test to act while the client is away.
const RECONNECT = { reconnectionDelay: 300, reconnectionDelayMax: 300, randomizationFactor: 0 };

parity('recovery: socket.emit carries an offset, so a client that drops recovers what was sent to its id', { ...SLOW, recoveryMs: 5000 }, async (server) => {
  const target = client(server, RECONNECT);
  const sender = client(server);
  await Promise.all([waitFor(target, 'connect'), waitFor(sender, 'connect')]);
  target.emit('message', 'x');
  const [echoed, offset] = await waitFor(target, 'message-back');
  assert.equal(echoed, 'x');
  assert.equal(typeof offset, 'string');
  assert.notEqual(offset, 'x');
  const id = target.id;
  const reconnected = waitFor(target, 'connect', 5000);
  const missed = waitFor(target, 'direct', 5000);
  await cut(target);
  sender.emit('emit-to-room', { room: id, event: 'direct', data: 7 });
  await reconnected;
  assert.equal(target.recovered, true);
  assert.equal(target.id, id);
  const [data, missedOffset] = await missed; // a replayed broadcast carries its offset
  assert.equal(data, 7);
  assert.equal(typeof missedOffset, 'string');
});

parity('recovery: middlewares do not run again; the socket keeps its data', { ...SLOW, recoveryMs: 5000 }, async (server) => {
  const socket = client(server, { nsp: '/private', auth: { token: 'secret' }, ...RECONNECT });
  await waitFor(socket, 'connect');
  await socket.emitWithAck('set-data', { n: 1 });
  socket.emit('message', 'sets an offset');
  await waitFor(socket, 'message-back');
  const reconnected = waitFor(socket, 'connect', 5000);
  await cut(socket);
  socket.auth = { token: 'wrong' }; // the middleware would refuse this
  await reconnected;
  assert.equal(socket.recovered, true);
  assert.deepEqual(await socket.emitWithAck('get-data'), { n: 1 });
});

parity('handshake: headers, decoded query, address, time, url and auth are known to the server', SLOW, async (server) => {
  const socket = client(server, {
    query: { foo: 'a b&c', n: '1' },
    extraHeaders: { 'x-test': 'yes' },
    auth: { token: 't' },
  });
  await waitFor(socket, 'connect');
  const handshake = await socket.emitWithAck('handshake');
  assert.equal(handshake.headers['x-test'], 'yes');
  assert.equal(handshake.query.foo, 'a b&c');
  assert.equal(handshake.query.n, '1');
  assert.equal(handshake.query.EIO, '4');
  assert.equal(handshake.query.transport, 'websocket');
  assert.deepEqual(handshake.auth, { token: 't' });
  assert.match(handshake.address, /127\.0\.0\.1/);
  assert.equal(typeof handshake.issued, 'number');
  assert.ok(Math.abs(Date.now() - handshake.issued) < 60_000);
  assert.equal(typeof handshake.time, 'string');
  assert.ok(handshake.url.startsWith('/socket.io/?'));
  assert.ok(handshake.url.includes('foo=a%20b%26c') || handshake.url.includes('foo=a+b%26c'));
  await socket.emitWithAck('set-data', { role: 'desk' });
  assert.deepEqual(await socket.emitWithAck('get-data'), { role: 'desk' });
});

// --- WebSocket framing ---------------------------------------------------------------------------

// A raw Engine.IO WebSocket, past its open packet.
async function openWebSocket(server) {
  const socket = rawSocket(server, '');
  await socket.opened;
  assert.match(await socket.next(), /^0\{"sid":/);
  return socket;
}

parity('websocket: a ping frame is answered with a pong carrying its data', SLOW, async (server) => {
  const socket = await openWebSocket(server);
  const pong = new Promise((resolve) => socket.ws.once('pong', (data) => resolve(data.toString())));
  socket.ws.ping('heartbeat');
  assert.equal(await pong, 'heartbeat');
  socket.ws.close();
});

parity('websocket: a message in fragments, with a ping between them, is one packet', SLOW, async (server) => {
  const socket = await openWebSocket(server);
  socket.ws.send('4', { fin: false });
  socket.ws.ping();
  socket.ws.send('0', { fin: true });
  assert.match(await socket.next(), /^40\{"sid":"[\w-]{20}"\}/);
  assert.equal(await socket.next(), '42["auth",{}]'); // the echo server's greeting
  socket.send('42["message","whole"]');
  assert.equal(await socket.next(), '42["message-back","whole"]');
  socket.ws.close();
});

parity('websocket: a client\'s close frame is answered with a close frame', SLOW, async (server) => {
  const socket = await openWebSocket(server);
  socket.ws.close(1000, 'bye');
  // Without the server's close frame, `ws` would report 1006 after its 30 s closing timeout.
  assert.equal(await socket.closed, 1000);
});

parity('websocket: a text frame that is not UTF-8 closes the connection with 1007', SLOW, async (server) => {
  const socket = await openWebSocket(server);
  socket.ws.send(Buffer.from([0x34, 0xff, 0xfe]), { binary: false });
  assert.equal(await socket.closed, 1007);
});

parity('websocket: a message over maxHttpBufferSize closes the connection with 1009', SLOW, async (server) => {
  const socket = await openWebSocket(server);
  socket.ws.send(`4${'x'.repeat(1_000_001)}`);
  assert.equal(await socket.closed, 1009);
});

// permessage-deflate (RFC 7692) with the official socket.io-client (its `ws` transport offers
// the extension) and with a raw WebSocket client that reads the frame headers itself: large
// events go out compressed (RSV1 set) and arrive intact, small ones and compress(false) ones
// go out plain, a broadcast is compressed once for every member, compressed client frames are
// inflated, a decompression bomb closes only its own connection, and a client that offers no
// extension gets plain frames.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { io as connect } from 'socket.io-client';
import { waitFor, sleep } from './helpers.mjs';

const require = createRequire(import.meta.url);
const roomcast = require('roomcast');

const open = [];
after(async () => {
  for (const close of open.reverse()) await close();
});

async function boot(opts = {}) {
  const io = new roomcast.Server({ perMessageDeflate: { threshold: 1024 }, maxHttpBufferSize: 100_000, ...opts });
  io.listen(0);
  const { port } = await io.listening;
  open.push(() => io.close());
  return { io, port };
}

const big = (n = 40) => ({ rows: Array.from({ length: n }, (_, i) => ({ symbol: 'AAPL', price: 185.5 + i, side: 'buy' })) });

/** A raw WebSocket client on the Engine.IO endpoint that keeps every frame's RSV1 bit. */
async function rawClient(port, extensions) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const key = crypto.randomBytes(16).toString('base64');
  const lines = [
    'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1', 'Host: 127.0.0.1', 'Upgrade: websocket',
    'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
  ];
  if (extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let buffer = Buffer.alloc(0);
  let head = null;
  const frames = [];
  const waiters = [];
  let closed = false;
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!head) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      head = buffer.subarray(0, end).toString();
      buffer = buffer.subarray(end + 4);
    }
    for (;;) {
      if (buffer.length < 2) break;
      let len = buffer[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buffer.length < 4) break;
        len = buffer.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buffer.length < 10) break;
        len = Number(buffer.readBigUInt64BE(2));
        at = 10;
      }
      if (buffer.length < at + len) break;
      const payload = buffer.subarray(at, at + len);
      const frame = { fin: !!(buffer[0] & 0x80), rsv1: !!(buffer[0] & 0x40), opcode: buffer[0] & 0x0f, payload };
      const inflate = (p) => zlib.inflateRawSync(Buffer.concat([p, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      frame.text = (frame.rsv1 ? inflate(payload) : payload).toString();
      frames.push(frame);
      buffer = buffer.subarray(at + len);
    }
    for (const w of waiters.splice(0)) w();
  });
  socket.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  const client = {
    get head() {
      return head;
    },
    get closed() {
      return closed;
    },
    /** The next text frame whose text matches `pattern`. */
    async next(pattern, ms = 3000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = frames.findIndex((f) => f.opcode === 1 && pattern.test(f.text));
        if (i >= 0) return frames.splice(i, 1)[0];
        if (closed || Date.now() > deadline) throw new Error(`no frame matching ${pattern}`);
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    /** Sends a masked text frame; `compressed` deflates it (RSV1). */
    send(text, compressed = false) {
      let payload = Buffer.from(text);
      if (compressed) {
        const raw = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        payload = raw.subarray(0, raw.length - 4);
      }
      socket.write(frameOf(payload, compressed));
    },
    sendRaw(payload) {
      socket.write(frameOf(payload, true));
    },
    close() {
      socket.destroy();
    },
  };
  open.push(async () => client.close());
  return client;
}

function frameOf(payload, rsv1) {
  const mask = crypto.randomBytes(4);
  const header = [0x80 | (rsv1 ? 0x40 : 0) | 1];
  if (payload.length < 126) header.push(0x80 | payload.length);
  else if (payload.length < 65536) header.push(0x80 | 126, payload.length >> 8, payload.length & 0xff);
  else {
    header.push(0x80 | 127, 0, 0, 0, 0);
    header.push((payload.length >>> 24) & 0xff, (payload.length >>> 16) & 0xff, (payload.length >>> 8) & 0xff, payload.length & 0xff);
  }
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from(header), mask, masked]);
}

/** A raw client connected to `/` (open packet read, CONNECT with `auth` done). */
async function rawSocketIo(port, extensions, auth) {
  const client = await rawClient(port, extensions);
  await client.next(/^0\{/);
  client.send(auth ? `40${JSON.stringify(auth)}` : '40');
  const connected = await client.next(/^40\{/);
  return { client, sid: JSON.parse(connected.text.slice(2)).sid };
}

test('negotiation: the answer has both no-context-takeover parameters; a client without the offer gets none', async () => {
  const { port } = await boot();
  const offered = await rawClient(port, 'permessage-deflate; client_max_window_bits');
  await offered.next(/^0\{/);
  assert.match(offered.head, /sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover/i);
  const plain = await rawClient(port);
  await plain.next(/^0\{/);
  assert.doesNotMatch(plain.head, /sec-websocket-extensions/i);
  const declined = await rawClient(port, 'permessage-deflate; server_max_window_bits=8');
  await declined.next(/^0\{/);
  assert.doesNotMatch(declined.head, /sec-websocket-extensions/i);
  const { port: offPort } = await boot({ perMessageDeflate: false });
  const off = await rawClient(offPort, 'permessage-deflate');
  await off.next(/^0\{/);
  assert.doesNotMatch(off.head, /sec-websocket-extensions/i);
});

test('large events go out compressed and small ones plain; compress(false) and clients without the extension get plain frames', async () => {
  const { io, port } = await boot();
  const sockets = new Map();
  io.on('connection', (s) => sockets.set(s.id, s));
  const { client, sid } = await rawSocketIo(port, 'permessage-deflate; client_max_window_bits');
  const { client: plainClient, sid: plainSid } = await rawSocketIo(port);
  while (sockets.size < 2) await sleep(5);
  const payload = big();
  sockets.get(sid).emit('snapshot', payload);
  sockets.get(sid).emit('tick', { p: 1 });
  sockets.get(sid).compress(false).emit('history', payload);
  const snapshot = await client.next(/^42\["snapshot"/);
  assert.equal(snapshot.rsv1, true);
  assert.ok(snapshot.payload.length < snapshot.text.length / 3, 'much smaller on the wire');
  assert.deepEqual(JSON.parse(snapshot.text.slice(2))[1], payload);
  assert.equal((await client.next(/^42\["tick"/)).rsv1, false);
  const history = await client.next(/^42\["history"/);
  assert.equal(history.rsv1, false);
  assert.deepEqual(JSON.parse(history.text.slice(2))[1], payload);
  sockets.get(plainSid).emit('snapshot', payload);
  const unoffered = await plainClient.next(/^42\["snapshot"/);
  assert.equal(unoffered.rsv1, false);
  assert.deepEqual(JSON.parse(unoffered.text.slice(2))[1], payload);
});

test('a broadcast reaches deflate and plain members intact, compressed once for all deflate members', async () => {
  const ws = new roomcast.WebSocketServer({ perMessageDeflate: { threshold: 512 } });
  ws.setAuthMiddleware(async (auth) => ({ userId: auth.userId }));
  ws.listen(0);
  const { port } = await ws.listening;
  open.push(() => ws.shutdown(0));
  const clients = [];
  for (let i = 0; i < 4; i++) {
    const c = connect(`http://127.0.0.1:${port}`, { auth: { sessionID: 's', userId: 'u1' }, transports: ['websocket'], forceNew: true, reconnection: false });
    clients.push(c);
    await waitFor(c, 'connected');
  }
  const { client: raw } = await rawSocketIo(port, 'permessage-deflate', { sessionID: 's', userId: 'u1' });
  const count = (name, text) => Number(new RegExp(`${name}_total (\\d+)`).exec(text)?.[1] ?? 0);
  const before = ws.metrics();
  const payload = big(60);
  const received = clients.map((c) => waitFor(c, 'portfolio:snapshot'));
  assert.equal(ws.emitToUser('u1', 'portfolio:snapshot', payload), 5);
  for (const value of await Promise.all(received)) assert.deepEqual(value, payload);
  const atRaw = await raw.next(/^42\["portfolio:snapshot"/);
  assert.equal(atRaw.rsv1, true);
  assert.deepEqual(JSON.parse(atRaw.text.slice(2))[1], payload);
  // The socket.io-client `ws` transport negotiated deflate too: five frames sent compressed.
  // ... and compressed once for all of them.
  const metrics = ws.metrics();
  assert.equal(count('roomcast_ws_deflated_frames', metrics) - count('roomcast_ws_deflated_frames', before), 5);
  assert.equal(count('roomcast_ws_deflate_compressions', metrics) - count('roomcast_ws_deflate_compressions', before), 1);
  assert.ok(count('roomcast_ws_deflate_saved_bytes', metrics) > 5 * 2000);
  assert.equal(clients[0].io.engine.transport.ws.extensions.includes('permessage-deflate'), true);
  raw.close();
  for (const c of clients) c.close();
});

test('compressed client frames are inflated; a decompression bomb closes only its own connection', async () => {
  const { io, port } = await boot();
  io.on('connection', (s) => s.on('echo', (value, ack) => ack(value)));
  const c = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
  open.push(async () => c.close());
  await waitFor(c, 'connect');
  // The Node client compresses what it sends above its own 1 KiB threshold.
  const payload = big(80);
  assert.deepEqual(await c.timeout(3000).emitWithAck('echo', payload), payload);

  const { client: raw } = await rawSocketIo(port, 'permessage-deflate');
  raw.send('420["echo","compressed by hand"]', true);
  assert.equal((await raw.next(/^430/)).text, '430["compressed by hand"]');

  const { client: bomber } = await rawSocketIo(port, 'permessage-deflate');
  const zeros = zlib.deflateRawSync(Buffer.alloc(50_000_000, 0x61), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.ok(zeros.length < 100_000, `bomb of ${zeros.length} bytes`);
  bomber.sendRaw(zeros.subarray(0, zeros.length - 4));
  const deadline = Date.now() + 3000;
  while (!bomber.closed && Date.now() < deadline) await sleep(20);
  assert.equal(bomber.closed, true, 'the bomb closed its connection');
  // Everyone else carries on.
  assert.deepEqual(await c.timeout(3000).emitWithAck('echo', { still: 'here' }), { still: 'here' });
  raw.send('421["echo","after"]', true);
  assert.equal((await raw.next(/^431/)).text, '431["after"]');
});

test('polling responses above the threshold are gzip- or deflate-encoded per Accept-Encoding (httpCompression)', async () => {
  const { io, port } = await boot({ httpCompression: { threshold: 1024 } });
  const sockets = [];
  io.on('connection', (s) => sockets.push(s));
  const get = (path, headers = {}, method = 'GET', body = undefined) => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const open = await get('/socket.io/?EIO=4&transport=polling');
  const { sid } = JSON.parse(open.body.toString().slice(1));
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  await get(path, { 'content-type': 'text/plain' }, 'POST', '40');
  assert.match((await get(path)).body.toString(), /^40/);
  while (sockets.length === 0) await sleep(5);
  const payload = big();
  for (const [encoding, inflate] of [['gzip', zlib.gunzipSync], ['deflate', zlib.inflateSync]]) {
    sockets[0].emit('snapshot', payload);
    const response = await get(path, { 'accept-encoding': encoding });
    assert.equal(response.headers['content-encoding'], encoding);
    assert.deepEqual(JSON.parse(inflate(response.body).toString().slice(2))[1], payload);
  }
  sockets[0].emit('tick', 1);
  const small = await get(path, { 'accept-encoding': 'gzip' });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(small.body.toString(), '42["tick",1]');
  sockets[0].emit('snapshot', payload);
  const unasked = await get(path);
  assert.equal(unasked.headers['content-encoding'], undefined);
  assert.match(unasked.body.toString(), /^42\["snapshot"/);
});

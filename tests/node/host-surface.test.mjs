// One host-neutral surface: the stats layout is defined once in core (`RealtimeStats`, what
// every host's stats call returns) and the C struct and the TypeScript declarations must map it
// field for field, so neither can drift.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHost } from './helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const hosts = [];
after(async () => {
  for (const h of hosts) await h.stop();
});

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

// `{eventLatency: {p50Ms}}` → `event_latency_p50_ms`, as the flat C struct names it. A list
// (of objects of one shape) is one C array field, of a struct checked on its own.
function flatten(value, prefix = '') {
  return Object.entries(value).flatMap(([key, v]) => {
    if (Array.isArray(v)) return [`${prefix}${snake(key)}`];
    return v !== null && typeof v === 'object' ? flatten(v, `${prefix}${snake(key)}_`) : [`${prefix}${snake(key)}`];
  });
}

function cStructFields(header, name) {
  const body = header.match(new RegExp(`typedef struct (?:${name} )?\\{([^}]*)\\} ${name};`))[1];
  return [...body.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/\b(\w+)(?:\[\w+\])?;/g)].map((m) => m[1]);
}

function tsInterfaceFields(dts, name) {
  const body = dts.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`))[1];
  return [...body.replace(/\/\*\*[\s\S]*?\*\//g, '').matchAll(/^\s*(\w+)\??:/gm)].map((m) => m[1]);
}

test('the C stats struct and the TypeScript Stats type map the engine\'s stats field for field', async () => {
  const h = await startHost();
  hosts.push(h);
  const stats = await h.send('stats');
  const header = readFileSync(path.join(root, 'include/roomcast.h'), 'utf8');
  const dts = readFileSync(path.join(root, 'node-binding/index.d.ts'), 'utf8');
  assert.deepEqual(cStructFields(header, 'roomcast_stats').sort(), flatten(stats).sort());
  assert.deepEqual(cStructFields(header, 'roomcast_broadcast_latency').sort(), flatten(stats.broadcastLatency[0]).sort());
  const classes = Number(header.match(/#define ROOMCAST_BROADCAST_CLASSES (\d+)/)[1]);
  assert.equal(classes, stats.broadcastLatency.length);
  assert.match(header, /roomcast_broadcast_latency broadcast_latency\[ROOMCAST_BROADCAST_CLASSES\];/);
  assert.deepEqual(tsInterfaceFields(dts, 'BroadcastLatency'), Object.keys(stats.broadcastLatency[0]));
  assert.deepEqual(tsInterfaceFields(dts, 'Stats'), Object.keys(stats));
  assert.deepEqual(tsInterfaceFields(dts, 'LatencySummary'), Object.keys(stats.eventLatency));
});

// The one error type: every `ErrorKind` of core has its C result of the same name and reaches
// JavaScript as `code`.
test('every core error kind is a C result of the same name and a Node error code', () => {
  const source = readFileSync(path.join(root, 'core/engine/src/error.rs'), 'utf8');
  const codes = [...source.matchAll(/=> "(ERR_[A-Z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 7, `found ${codes}`);
  const header = readFileSync(path.join(root, 'include/roomcast.h'), 'utf8');
  for (const code of codes) assert.match(header, new RegExp(`\\bROOMCAST_RESULT_${code} =`), code);
});

test('the addon throws the core\'s error codes', async () => {
  const { WebSocketServer } = await import('roomcast');
  assert.throws(() => new WebSocketServer({ path: 'no-slash' }), { code: 'ERR_INVALID_ARGUMENT', message: "path must start with '/'" });
  assert.throws(() => new WebSocketServer({ pingInterval: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  const server = new WebSocketServer();
  server.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  await assert.rejects(server.listen(0), { code: 'ERR_ALREADY_RUNNING' });
  await server.shutdown(0);
  await assert.rejects(server.shutdown(0), { code: 'ERR_NOT_RUNNING' });
  assert.equal(server.setSocketData('nobody', { a: 1 }), false);
});

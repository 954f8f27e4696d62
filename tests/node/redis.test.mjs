// Multi-node through a real redis-server with classic pub/sub: the preset's cluster tests
// (preset-cluster.mjs), the unmodified @socket.io/redis-emitter reaching roomcast users, and
// Redis going away and coming back: local delivery goes on, then cross-node delivery resumes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startRedis, waitFor, sleep, collect } from './helpers.mjs';
import { presetClusterTests, presetNodes, waitUntil } from './preset-cluster.mjs';

const require = createRequire(import.meta.url);
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');
const { createAdapter } = require('@socket.io/redis-adapter');

let redis;

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await redis.stop();
});

const { node, client } = presetNodes(() => ['--redis', redis.url]);

presetClusterTests('classic', {
  redisArgs: () => ['--redis', redis.url],
  async nodeAdapter() {
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    return { adapter: createAdapter(pub, sub), close: () => Promise.allSettled([pub.quit(), sub.quit()]) };
  },
});

test('the unmodified @socket.io/redis-emitter reaches roomcast users', async () => {
  const n1 = await node();
  const a = client(n1, 'sa', 'ua');
  await waitFor(a, 'connected');
  const redisClient = createClient({ url: redis.url });
  await redisClient.connect();
  try {
    const emitter = new Emitter(redisClient);
    emitter.to('user:ua').emit('trade:executed', { id: 'from-emitter', chart: Buffer.from([7, 8]) });
    const trade = await waitFor(a, 'trade:executed');
    assert.equal(trade.id, 'from-emitter');
    assert.deepEqual(Buffer.from(trade.chart), Buffer.from([7, 8]));
    emitter.emit('notice', 'everyone');
    assert.equal(await waitFor(a, 'notice'), 'everyone');
  } finally {
    await redisClient.quit();
  }
});

test('Redis down: local delivery goes on, the adapter reports it, and cross-node delivery resumes', async () => {
  const [n1, n2] = [await node(), await node()];
  const a1 = client(n1, 'sa', 'ua');
  const a2 = client(n2, 'sa', 'ua');
  await Promise.all([a1, a2].map((s) => waitFor(s, 'connected')));
  const port = redis.port;
  await redis.stop();
  await waitUntil(async () => (await n1.send('stats')).redisAdapter === false);
  const local = collect(a1, 'during');
  assert.equal(await n1.send('emitToUser', { userId: 'ua', event: 'during', data: 1 }), 1);
  await sleep(100);
  assert.equal(local.length, 1);

  redis = await startRedis(port);
  await waitUntil(async () => (await n1.send('stats')).redisAdapter && (await n2.send('stats')).redisAdapter, 10_000);
  const remote = collect(a2, 'after');
  await waitUntil(async () => {
    await n1.send('emitToUser', { userId: 'ua', event: 'after', data: 1 });
    await sleep(100);
    return remote.length > 0;
  }, 10_000);
  assert.ok(remote.length >= 1);
});


'use strict';
// @ts-check
// socket.io's `io.adapter(createAdapter(…))` for roomcast: the engine keeps its own Redis
// connections, so the factories take URLs and the Node adapters' option names, and return a
// description the `Server` hands to the engine.

const REDIS_ADAPTER = Symbol('roomcast.redisAdapter');

/**
 * @typedef {object} RedisAdapterSpec
 * @property {string} url one URL, or a cluster's node URLs joined by commas
 * @property {string} [key] the channel prefix
 * @property {number} [requestsTimeout]
 * @property {boolean} [sharded]
 * @property {string} [subscriptionMode]
 * @property {string} [relayAddress]
 */

/**
 * The classic `@socket.io/redis-adapter` wire format on one Redis (`key` and `requestsTimeout`
 * as the Node adapter's options).
 * @param {string} url
 * @param {{ key?: string, requestsTimeout?: number, relayAddress?: string }} [opts]
 * @returns {RedisAdapterSpec}
 */
function createRedisAdapter(url, opts = {}) {
  if (typeof url !== 'string') throw new TypeError('createRedisAdapter: the Redis URL must be a string');
  return /** @type {RedisAdapterSpec} */ ({ [REDIS_ADAPTER]: true, url, key: opts.key, requestsTimeout: opts.requestsTimeout, relayAddress: opts.relayAddress });
}

/**
 * socket.io's `createShardedAdapter(pubClient, subClient, opts)`: sharded pub/sub (Redis 7
 * `SPUBLISH`/`SSUBSCRIBE`) on the Redis Cluster whose nodes `urls` lists (a URL or an array of
 * them; the other nodes are discovered). `channelPrefix` and `subscriptionMode` (`static`,
 * `dynamic`, `dynamic-private`) as the Node adapter's options.
 * @param {string | string[]} urls
 * @param {{ channelPrefix?: string, requestsTimeout?: number, subscriptionMode?: string, relayAddress?: string }} [opts]
 * @returns {RedisAdapterSpec}
 */
function createShardedAdapter(urls, opts = {}) {
  const list = Array.isArray(urls) ? urls : [urls];
  if (list.length === 0 || list.some((u) => typeof u !== 'string')) {
    throw new TypeError('createShardedAdapter: the Redis Cluster URLs must be strings');
  }
  return /** @type {RedisAdapterSpec} */ ({
    [REDIS_ADAPTER]: true,
    url: list.join(','),
    key: opts.channelPrefix,
    requestsTimeout: opts.requestsTimeout,
    sharded: true,
    subscriptionMode: opts.subscriptionMode,
    relayAddress: opts.relayAddress,
  });
}

/**
 * The adapter description, or a TypeError naming the factories.
 * @param {unknown} adapter
 * @returns {RedisAdapterSpec}
 */
function redisAdapterSpec(adapter) {
  if (!adapter || typeof adapter !== 'object' || !(/** @type {any} */ (adapter))[REDIS_ADAPTER]) {
    throw new TypeError('roomcast Server: adapter must come from createRedisAdapter(url, opts) or createShardedAdapter(urls, opts)');
  }
  return /** @type {RedisAdapterSpec} */ (adapter);
}

module.exports = { createRedisAdapter, createShardedAdapter, redisAdapterSpec };

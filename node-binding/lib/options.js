'use strict';
// @ts-check
// Options by socket.io's names (and the dashboard's) → the engine's option objects. Only names
// change here: every default and every check on a value lives in the engine.

const path = require('node:path');
const { redisAdapterSpec } = require('./redis-adapter.js');

// socket.io's options the engine offers. Others are refused by name rather than ignored (see
// README: Moving from socket.io).
const SERVER_OPTIONS = new Set(['path', 'pingInterval', 'pingTimeout', 'maxHttpBufferSize', 'cors', 'allowUpgrades',
  'transports', 'connectTimeout', 'connectionStateRecovery', 'serveClient', 'allowRequest', 'adapter', 'perMessageDeflate', 'httpCompression',
  'writeCoalesce']);

// Copied as they are, by the same name.
const SERVER_PLAIN = ['path', 'pingInterval', 'pingTimeout', 'maxHttpBufferSize', 'allowUpgrades', 'transports', 'connectTimeout', 'writeCoalesce'];
const PRESET_PLAIN = ['path', 'allowUpgrades', 'pingInterval', 'pingTimeout', 'maxPayload', 'corsOrigins', 'queueCapacity', 'authTimeout',
  'maxSubscriptions', 'maxSymbolsPerRequest', 'maxRateViolations', 'shutdownGrace', 'redisUrl', 'redisPrefix', 'writeCoalesce',
  'connectionStateRecovery'];

/**
 * @param {Record<string, any>} options
 * @param {string[]} keys
 * @param {Record<string, any>} out
 */
function copy(options, keys, out) {
  for (const key of keys) if (options[key] !== undefined) out[key] = options[key];
}

/**
 * socket.io's `cors.origin` as the engine's list of allowed origins (absent: any origin).
 * @param {Record<string, any>} options
 * @param {Record<string, any>} out
 */
function corsOrigins(options, out) {
  const origin = options.cors && options.cors.origin;
  if (origin !== undefined && origin !== '*' && origin !== true && origin !== false) out.corsOrigins = Array.isArray(origin) ? origin : [origin];
}

/** @param {unknown} value a string or a list of them, as the `cors` package takes */
const list = (value) => (value === undefined ? undefined : Array.isArray(value) ? value.map(String) : String(value).split(',').map((v) => v.trim()));

/**
 * socket.io's `cors` → the engine's CORS policy (origin functions and RegExps are refused).
 * @param {Record<string, any>} options
 * @param {Record<string, any>} out
 */
function corsPolicy(options, out) {
  const cors = options.cors;
  if (!cors) return;
  const { origin } = cors;
  const origins = [origin].flat();
  if (origins.some((o) => typeof o === 'function' || o instanceof RegExp)) {
    throw new TypeError('roomcast Server: cors.origin must be true, "*", an origin or a list of origins');
  }
  out.cors = {
    reflectOrigin: origin === true ? true : undefined,
    origins: origin === undefined || origin === true ? undefined : origin === false ? [] : origins.map(String),
    methods: list(cors.methods),
    allowedHeaders: list(cors.allowedHeaders ?? cors.headers),
    exposedHeaders: list(cors.exposedHeaders),
    credentials: cors.credentials,
    maxAge: cors.maxAge,
  };
}

/** socket.io's `serveClient`: the installed `socket.io-client`'s bundle, this package's version as its ETag. */
function clientBundle() {
  const dir = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist');
  return { dir, version: require('../package.json').version };
}

/**
 * `perMessageDeflate` and `httpCompression`: `true` or `{threshold}` turns them on.
 * @param {Record<string, any>} options
 * @param {Record<string, any>} out
 */
function compression(options, out) {
  for (const key of ['perMessageDeflate', 'httpCompression']) {
    const value = options[key];
    if (value) out[key] = value === true ? {} : { threshold: value.threshold };
  }
}

/**
 * `new Server(…, options)` → `NativeIo`'s options.
 * @param {Record<string, any>} options
 * @returns {import('../native.js').IoOptions}
 */
function serverOptions(options) {
  for (const key of Object.keys(options)) {
    if (!SERVER_OPTIONS.has(key)) throw new TypeError(`roomcast Server: option "${key}" is not supported`);
  }
  if (options.adapter !== undefined) redisAdapterSpec(options.adapter);
  /** @type {Record<string, any>} */
  const out = {};
  copy(options, SERVER_PLAIN, out);
  corsOrigins(options, out);
  corsPolicy(options, out);
  if (options.serveClient !== false) out.serveClient = clientBundle();
  compression(options, out);
  if (options.connectionStateRecovery) out.connectionStateRecovery = options.connectionStateRecovery;
  return out;
}

/**
 * `new WebSocketServer(options)` → `NativeServer`'s options.
 * @param {Record<string, any>} options
 * @returns {import('../native.js').ServerOptions}
 */
function presetOptions(options) {
  /** @type {Record<string, any>} */
  const out = {};
  copy(options, PRESET_PLAIN, out);
  corsOrigins(options, out);
  compression(options, out);
  if (options.rateLimits) {
    /** @type {Record<string, {max: number, windowMs: number}>} */
    const limits = {};
    for (const [event, { max, window }] of Object.entries(options.rateLimits)) limits[event] = { max, windowMs: window };
    out.rateLimits = limits;
  }
  return out;
}

module.exports = { serverOptions, presetOptions };

'use strict';
// @ts-check
// Event arguments across the boundary: JSON array text once per emit, binary values beside it
// as attachments (`{_placeholder: true, num}` markers in the text), as socket.io's parser sends
// them.

/**
 * Buffers, typed arrays and ArrayBuffers become markers and are appended to `attachments`.
 * @param {unknown} value
 * @param {Buffer[]} attachments
 * @returns {unknown}
 */
function extractBinary(value, attachments) {
  if (Buffer.isBuffer(value)) {
    attachments.push(value);
    return { _placeholder: true, num: attachments.length - 1 };
  }
  if (value instanceof ArrayBuffer) return extractBinary(Buffer.from(value), attachments);
  if (ArrayBuffer.isView(value)) return extractBinary(Buffer.from(value.buffer, value.byteOffset, value.byteLength), attachments);
  if (Array.isArray(value)) return value.map((v) => extractBinary(v, attachments));
  if (value !== null && typeof value === 'object' && typeof (/** @type {any} */ (value).toJSON) !== 'function') {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = extractBinary(v, attachments);
    return out;
  }
  return value;
}

/**
 * Whether any argument holds binary (walked without copying, as socket.io's hasBinary; a Buffer
 * is a typed array). Plain loops: this runs on every emit.
 * @param {any} value
 * @param {number} depth
 * @returns {boolean}
 */
function hasBinary(value, depth) {
  if (typeof value !== 'object' || value === null) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (depth > 64) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasBinary(value[i], depth + 1)) return true;
    return false;
  }
  if (typeof value.toJSON === 'function') return false;
  for (const key in value) if (hasBinary(value[key], depth + 1)) return true;
  return false;
}

/**
 * The arguments as `[jsonArrayText, attachments | undefined]` for the native calls.
 * @param {unknown[]} args
 * @returns {[string, Buffer[] | undefined]}
 */
function encodeArgs(args) {
  if (!hasBinary(args, 0)) {
    const json = JSON.stringify(args);
    if (json === undefined) throw new TypeError('arguments are not JSON-serializable');
    return [json, undefined];
  }
  /** @type {Buffer[]} */
  const attachments = [];
  const json = JSON.stringify(extractBinary(args, attachments));
  if (json === undefined) throw new TypeError('arguments are not JSON-serializable');
  return [json, attachments.length ? attachments : undefined];
}

/**
 * Replaces `{_placeholder: true, num}` markers with the received Buffers (a copy; JSON values
 * without markers come back as they are).
 * @param {any} value
 * @param {Buffer[] | null | undefined} attachments
 * @returns {any}
 */
function withAttachments(value, attachments) {
  if (!attachments || attachments.length === 0 || value === null || typeof value !== 'object') return value;
  if (value._placeholder === true && typeof value.num === 'number') return attachments[value.num];
  if (Array.isArray(value)) return value.map((v) => withAttachments(v, attachments));
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = withAttachments(v, attachments);
  return out;
}

/**
 * A JSON array text from the engine, its binary markers replaced by the attachments.
 * @param {string} json
 * @param {Buffer[] | null | undefined} attachments
 * @returns {any[]}
 */
function decodeArgs(json, attachments) {
  return JSON.parse(json).map((/** @type {unknown} */ v) => withAttachments(v, attachments));
}

/**
 * One value as JSON text (undefined travels as null).
 * @param {unknown} data
 * @returns {string}
 */
function jsonPayload(data) {
  const json = JSON.stringify(data === undefined ? null : data);
  if (json === undefined) throw new TypeError('payload is not JSON-serializable');
  return json;
}

module.exports = { encodeArgs, decodeArgs, withAttachments, jsonPayload };

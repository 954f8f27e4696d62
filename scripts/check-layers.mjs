// The layer check of the engine crate, core/engine/src (run by .ci/run): every module may use
// only modules of its own layer or below, and no files may use each other in a cycle (in the
// preset's crate, core/realtime/src, and the two bindings, ffi/src and node-binding/src, too). Layers, bottom up:
//
//   ids, clock,     identifiers, the process clock and the one error type every host maps
//   error
//   stats           counters and histograms
//   config          the server's options (plain data)
//   transport       TCP listener, hyper connections, adopted sockets: knows nothing of Engine.IO
//   engineio        Engine.IO v4: HTTP routing, sessions, polling, WebSocket, upgrade, heartbeat
//   rooms, auth     room index and delivery; the connect hand-off types
//   socketio        Socket.IO v5: packets, namespaces, sockets, acks, recovery, the adapter trait
//   server, metrics `Server`: one engine with its endpoints; its Prometheus collector
//   adapters        Redis: classic pub/sub adapter, commands, shared sessions
//
// The dashboard preset (rate limits, subscription caps, user rooms, the stats document) is its
// own crate, core/realtime, on this crate's public API: Cargo refuses any other edge there.
//
// usage: node scripts/check-layers.mjs        exits 1 and lists each violation
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const crates = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../core');
const LAYERS = {
  ids: 0, clock: 0, error: 0,
  stats: 1,
  config: 2,
  transport: 3,
  engineio: 4,
  rooms: 5, auth: 5,
  socketio: 6,
  server: 7, metrics: 7,
  adapters: 8,
};
// Files may not use each other in a cycle either (a type and the registry that holds it meet
// through a trait, e.g. `SocketHome`). The list of tolerated cycles is empty and stays so.
const KNOWN_CYCLES = new Set([]);

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return files(full);
    return name.endsWith('.rs') ? [full] : [];
  });
}

// The code of a file without comments and without its `#[cfg(test)]` module (tests may reach
// anywhere in the crate).
function code(text) {
  const cut = text.search(/#\[cfg\(test\)\]\s*mod /);
  const body = cut >= 0 ? text.slice(0, cut) : text;
  return body.replace(/\/\/.*$/gm, '');
}

const moduleOf = (rel) => rel.split('/')[0].replace(/\.rs$/, '');

// Checks one crate's source tree: `layers` maps each top-level module to its layer (null: one
// layer, only the cycle check applies). Appends to `violations`; returns the file count.
function check(root, layers, violations) {
  // Resolves a module path (segments after `crate::`) to the file that defines it.
  function fileFor(segments) {
    for (let n = segments.length; n > 0; n--) {
      const base = path.join(root, ...segments.slice(0, n));
      for (const candidate of [`${base}.rs`, path.join(base, 'mod.rs')]) {
        if (existsSync(candidate)) return path.relative(root, candidate);
      }
    }
    return null;
  }

  const edges = new Map();
  for (const file of files(root)) {
    const rel = path.relative(root, file);
    if (rel === 'lib.rs') continue;
    const own = moduleOf(rel);
    const text = code(readFileSync(file, 'utf8'));
    const targets = new Set();
    for (const m of text.matchAll(/crate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)/g)) {
      const segments = m[1].split('::');
      const target = segments[0];
      if (layers && !(target in layers)) continue;
      if (!layers && !fileFor([target])) continue;
      if (!layers) { /* one layer */ } else if (!(own in layers)) violations.push(`${rel}: module "${own}" has no layer`);
      else if (layers[target] > layers[own]) violations.push(`${rel}: ${own} uses crate::${target} (a higher layer)`);
      const dest = fileFor(segments);
      if (dest && dest !== rel) targets.add(dest);
    }
    const dir = path.dirname(rel);
    const parentDir = path.basename(rel) === 'mod.rs' ? path.dirname(dir) : dir;
    const superBase = path.basename(rel) === 'mod.rs' ? parentDir : dir;
    for (const m of text.matchAll(/super::(\{[^}]*\}|[a-z_][a-z0-9_]*)/g)) {
      const names = m[1].startsWith('{') ? m[1].slice(1, -1).split(',').map((s) => s.trim().split('::')[0]) : [m[1]];
      for (const name of names) {
        const dest = fileFor([...superBase.split('/').filter((s) => s && s !== '.'), name]);
        if (dest && dest !== rel) targets.add(dest);
      }
    }
    edges.set(rel, targets);
  }

  // Cycles between files: strongly connected components of the use graph (Tarjan).
  let index = 0;
  const stack = [];
  const info = new Map();
  const cycles = [];
  function visit(v) {
    info.set(v, { index, low: index, on: true });
    index++;
    stack.push(v);
    for (const w of edges.get(v) || []) {
      if (!edges.has(w)) continue;
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).on) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).on = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort().join(' <-> '));
    }
  }
  for (const v of edges.keys()) if (!info.has(v)) visit(v);
  for (const cycle of cycles) {
    if (!KNOWN_CYCLES.has(cycle)) violations.push(`file cycle in ${path.relative(path.dirname(crates), root)}: ${cycle}`);
  }


  return edges.size;
}

const violations = [];
const counts = [
  check(path.join(crates, 'engine/src'), LAYERS, violations),
  check(path.join(crates, 'realtime/src'), null, violations),
  check(path.join(crates, '../ffi/src'), null, violations),
  check(path.join(crates, '../node-binding/src'), null, violations),
];

if (violations.length) {
  console.error(`layer check failed (${violations.length}):\n  ${violations.join('\n  ')}`);
  process.exit(1);
}
console.log(`layer check ok: ${counts.join(' + ')} files (engine + realtime + ffi + node-binding), no cycle between files`);

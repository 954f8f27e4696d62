// The TypeScript declarations (node-binding/index.d.ts) as an app's compiler sees them: a
// fixture using the Server API and WebSocketServer#io compiles under --strict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('index.d.ts types a socket.io-style app under tsc --strict', () => {
  const tsc = path.join(root, 'node_modules/.bin/tsc');
  const fixture = path.join(root, 'tests/node/fixtures/types-check.ts');
  const run = spawnSync(tsc, ['--noEmit', '--strict', '--esModuleInterop', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', fixture], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});

// The addon as a user gets it: `npm pack` of node-binding, installed into an empty directory
// with `npm install ./roomcast-*.tgz`, then required from there (types included, the bundled
// binary for this platform loaded), and the error a platform without a binary gets.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync, cpSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(path.join(tmpdir(), 'roomcast-pack-'));
after(() => rmSync(work, { recursive: true, force: true }));

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('npm pack gives a tarball that installs into an empty directory and works', () => {
  run('npm', ['pack', '--pack-destination', work, '--silent'], path.join(root, 'node-binding'));
  const tarball = readdirSync(work).find((f) => /^roomcast-.*\.tgz$/.test(f));
  assert.ok(tarball, 'npm pack wrote roomcast-<version>.tgz');
  const app = path.join(work, 'app');
  run('mkdir', ['-p', app], work);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  run('npm', ['install', path.join(work, tarball), '--no-audit', '--no-fund', '--offline'], app);
  const installed = path.join(app, 'node_modules/roomcast');
  assert.ok(existsSync(path.join(installed, 'index.d.ts')), 'types are included');
  assert.ok(readdirSync(installed).some((f) => f.endsWith('.node')), 'the binary is bundled');
  const script = `
    const { Server, WebSocketServer } = require('roomcast');
    const io = new Server();
    io.listen(0);
    io.listening.then((bound) => {
      console.log(typeof WebSocketServer, bound.port > 0);
      return io.close();
    });`;
  assert.equal(run('node', ['-e', script], app).trim(), 'function true');
});

test('without a binary for the platform, require names the platform', () => {
  const copy = path.join(work, 'no-binary');
  cpSync(path.join(root, 'node-binding'), copy, {
    recursive: true,
    filter: (src) => !src.endsWith('.node') && !src.includes(`${path.sep}src`) && !src.endsWith('Cargo.toml'),
  });
  assert.ok(JSON.parse(readFileSync(path.join(copy, 'package.json'), 'utf8')).exports);
  const out = (() => {
    try {
      run('node', ['-e', `require(${JSON.stringify(copy)})`], work);
      return '';
    } catch (error) {
      return String(error.stderr);
    }
  })();
  assert.match(out, new RegExp(`no native binary for ${process.platform}-${process.arch}`));
});

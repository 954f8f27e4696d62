// A/B of the fan-out scenario (10k clients, 10 rooms, 200 emits of 100 B, back to back) for two
// builds of bench-server-roomcast, alternating, so a change's cost on the hot path shows against
// the run-to-run spread. Build the older one in a worktree with its own target directory.
//
// usage: node bench/scripts/fanout-ab.mjs <old bench-server-roomcast> <new one> <loadgen> [rounds=3]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
const [oldBin, newBin, loadgen, rounds = 3] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
function start(cmd) {
  const proc = spawn(cmd, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; const m = out.match(/listening on (\d+)/); if (m) resolve({ proc, port: Number(m[1]) }); });
  });
}
function load(port, args, onConnected) {
  return new Promise((resolve) => {
    const proc = spawn(loadgen, ['--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = ''; let done; const pending = [];
    proc.stdout.on('data', (d) => { buf += d; let nl; while ((nl = buf.indexOf('\n')) >= 0) { const line = JSON.parse(buf.slice(0, nl)); buf = buf.slice(nl + 1); if (line.phase === 'connected') pending.push(onConnected()); if (line.phase === 'done') done = line; } });
    proc.on('exit', async () => { await Promise.all(pending); resolve(done); });
  });
}
async function fanout(bin) {
  const s = await start(bin);
  let before = 0;
  const r = await load(s.port, ['--clients', '10000', '--rooms', '10', '--scenario', 'fanout', '--messages', '200', '--size', '100'], async () => { before = cpuSeconds(s.proc.pid); });
  const cpu = cpuSeconds(s.proc.pid) - before;
  s.proc.kill('SIGKILL'); await sleep(500);
  return r.received / cpu;
}
const results = { before: [], after: [] };
for (let i = 0; i < rounds; i++) {
  results.before.push(await fanout(oldBin));
  results.after.push(await fanout(newBin));
}
const fmt = (xs) => xs.map((x) => Math.round(x / 1000) + 'k').join(', ');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`deliveries per server CPU-s, A (old): ${fmt(results.before)} (median ${Math.round(median(results.before) / 1000)}k)`);
console.log(`deliveries per server CPU-s, B (new):  ${fmt(results.after)} (median ${Math.round(median(results.after) / 1000)}k)`);

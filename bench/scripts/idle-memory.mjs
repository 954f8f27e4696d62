// Idle memory per WebSocket client: opens N Socket.IO connections to a running server, answers
// pings, and reports the server's RSS growth per client.
// Usage: node bench/scripts/idle-memory.mjs <port> <server-pid> <clients>
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
const [port, pid, n] = process.argv.slice(2).map(Number);
const rss = () => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const before = rss();
const socks = [];
let connected = 0;
await new Promise((resolve) => {
  let i = 0;
  const open = () => {
    if (i >= n) return;
    i++;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
    ws.on('message', (m) => {
      const s = m.toString();
      if (s[0] === '0') ws.send('40');
      else if (s === '2') ws.send('3');
      else if (s.startsWith('40')) { if (++connected === n) resolve(); }
    });
    ws.on('open', open);
    ws.on('error', (e) => console.error(e.message));
    socks.push(ws);
  };
  for (let k = 0; k < 50; k++) open();
});
await new Promise((r) => setTimeout(r, 2000));
const after = rss();
console.log(JSON.stringify({ clients: n, rssBeforeKiB: before, rssAfterKiB: after, perClientBytes: Math.round((after - before) * 1024 / n) }));
process.exit(0);

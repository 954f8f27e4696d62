// The JS handler path: a client event → a JavaScript handler → its ack, on socket.io's Server and
// on roomcast's Server, same scenario, one run. Clients run in a child process (the official
// socket.io-client over WebSocket), each keeping a window of events in flight; the server process
// reports events/s, process CPU per event (roomcast: the Node thread and the engine's threads)
// and the Node thread's share (event-loop utilisation × wall time).
//
// usage: node bench/scripts/js-handler.mjs [clients=50] [eventsPerClient=400] [window=8]
import http from 'node:http';
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Server as SocketIoServer } from 'socket.io';

const require = createRequire(import.meta.url);
const { Server: RoomcastServer } = require('roomcast');
const [clients = 50, perClient = 400, windowSize = 8] = process.argv.slice(2).map(Number);

if (process.env.JS_HANDLER_CLIENT) {
  const { io } = await import('socket.io-client');
  const url = process.env.JS_HANDLER_CLIENT;
  const sockets = await Promise.all(
    Array.from({ length: clients }, () => new Promise((resolve) => {
      const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
      s.on('connect', () => resolve(s));
    })),
  );
  process.send('ready');
  await new Promise((resolve) => process.once('message', resolve));
  await Promise.all(sockets.map(async (s) => {
    let sent = 0;
    const lane = async () => {
      while (sent < perClient) {
        sent += 1;
        await s.emitWithAck('order:preview', { id: sent, symbol: 'AAPL', qty: 10, side: 'buy' });
      }
    };
    await Promise.all(Array.from({ length: windowSize }, lane));
  }));
  process.send('done');
  for (const s of sockets) s.close();
  process.exit(0);
}

async function measure(label, ServerClass) {
  const httpServer = http.createServer();
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const io = new ServerClass(httpServer);
  io.on('connection', (socket) => {
    socket.on('order:preview', (order, ack) => ack({ ok: true, id: order.id, notional: order.qty * 185.5 }));
  });
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { env: { ...process.env, JS_HANDLER_CLIENT: url } });
  await new Promise((resolve) => child.once('message', resolve));
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  child.send('go');
  await new Promise((resolve) => child.once('message', resolve));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const events = clients * perClient;
  await new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve) => io.close(() => resolve()));
  return {
    label,
    eventsPerSecond: Math.round(events / wall),
    processCpuUsPerEvent: ((cpu.user + cpu.system) / events).toFixed(1),
    nodeThreadUsPerEvent: ((elu.utilization * wall * 1e6) / events).toFixed(1),
  };
}

const results = [];
results.push(await measure('socket.io 4.8 Server', SocketIoServer));
results.push(await measure('roomcast Server', RoomcastServer));
console.log(`JS handler path: ${clients} clients × ${perClient} events with acks, ${windowSize} in flight per client`);
console.log('server                 events/s   process CPU µs/event   Node thread µs/event');
for (const r of results) {
  console.log(`${r.label.padEnd(22)} ${String(r.eventsPerSecond).padStart(8)}   ${r.processCpuUsPerEvent.padStart(20)}   ${r.nodeThreadUsPerEvent.padStart(20)}`);
}
const [node, rc] = results;
console.log(`ratio (roomcast / socket.io): events/s ${(rc.eventsPerSecond / node.eventsPerSecond).toFixed(2)}×, ` +
  `Node thread per event ${(node.nodeThreadUsPerEvent / rc.nodeThreadUsPerEvent).toFixed(2)}× less`);

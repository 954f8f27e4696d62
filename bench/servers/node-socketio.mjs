// Benchmark server on the real Node socket.io 4.8 (the same behaviour as the roomcast bench
// server): token auth, rooms user:<token> + <room> + all, `blast {room, n, size, rate}` emits
// n events of size bytes with ts/due stamps. Prints `listening on <port>`.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] || 0);
const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket', 'polling'], pingInterval: 25000, pingTimeout: 60000 });
io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token === 'string' && token.startsWith('t')) next();
  else next(new Error('UNAUTHORIZED'));
});
io.on('connection', (socket) => {
  const { token, room } = socket.handshake.auth;
  socket.join(`user:${token}`);
  if (room) socket.join(room);
  socket.join('all');
  socket.on('blast', ({ room = 'all', rooms = 0, n = 0, size = 100, rate = 0 }) => {
    const pad = 'x'.repeat(Math.max(0, size - 40));
    const start = Date.now();
    const interval = rate > 0 ? 1000 / rate : 0;
    let i = 0;
    const step = () => {
      const batchEnd = rate > 0 ? i + 1 : Math.min(n, i + 16);
      for (; i < batchEnd && i < n; i++) {
        const due = start + Math.floor(i * interval);
        io.to(rooms > 0 ? `room${i % rooms}` : room).emit('tick', { i, ts: Date.now(), due, pad });
      }
      if (i < n) {
        if (rate > 0) setTimeout(step, Math.max(0, start + Math.floor(i * interval) - Date.now()));
        else setImmediate(step);
      }
    };
    step();
  });
});
// The same raised backlog as roomcast's listener, so a storm measures the server, not SYN drops.
httpServer.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => console.log(`listening on ${httpServer.address().port}`));

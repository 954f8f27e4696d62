'use strict';
// The dashboard client, with the seed's client behaviour: the unmodified socket.io-client,
// auth from the Express session, reconnection with backoff (1 s → 5 s, unlimited), subscriptions
// restored after every (re)connect, a manual reconnect after `io server disconnect`, and the
// `server:shutdown` notice shown.

const WATCHLIST = ['AAPL', 'MSFT', 'TSLA', 'NVDA'];
const $ = (id) => document.getElementById(id);
const state = { socket: null, quotes: {}, trades: 0 };

function setStatus(name, text) {
  const el = $('status');
  el.className = `status ${name}`;
  el.dataset.state = name;
  el.textContent = text || name;
}

function restoreSubscriptions(socket) {
  socket.emit('subscribe:portfolio');
  socket.emit('subscribe:trades');
  socket.emit('subscribe:watchlist', { symbols: WATCHLIST });
}

function renderQuotes() {
  $('quotes').innerHTML = WATCHLIST.map((symbol) => {
    const q = state.quotes[symbol];
    if (!q) return `<tr data-symbol="${symbol}"><td>${symbol}</td><td>—</td><td></td></tr>`;
    const cls = q.change >= 0 ? 'up' : 'down';
    return `<tr data-symbol="${symbol}"><td>${symbol}</td><td class="price">${q.price.toFixed(2)}</td><td class="${cls}">${q.change >= 0 ? '+' : ''}${q.change.toFixed(2)}</td></tr>`;
  }).join('');
}

function addTrade(text, failed) {
  const li = document.createElement('li');
  li.textContent = text;
  if (failed) li.className = 'failed';
  $('trades').prepend(li);
  while ($('trades').children.length > 50) $('trades').lastChild.remove();
  state.trades += 1;
  document.body.dataset.trades = String(state.trades);
}

function connect(session) {
  const socket = io({
    auth: { sessionID: session.sessionID, userId: session.userId, userName: session.userName },
    transports: ['websocket', 'polling'],
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    reconnectionAttempts: Infinity,
  });
  state.socket = socket;
  setStatus('connecting');

  socket.on('connect', () => {
    setStatus('connected');
    $('reconnect').textContent = '';
    $('banner').hidden = true;
    restoreSubscriptions(socket);
  });
  socket.on('connected', (welcome) => {
    document.body.dataset.socketId = welcome.socketId;
  });
  socket.on('subscribed:watchlist', (reply) => {
    document.body.dataset.watchlist = reply.symbols.join(',');
  });
  socket.on('disconnect', (reason) => {
    setStatus('disconnected', `disconnected (${reason})`);
    if (reason === 'io server disconnect') {
      // The server closed us on purpose (shutdown, deploy): reconnect by hand after a second.
      setTimeout(() => socket.connect(), 1000);
    }
  });
  socket.io.on('reconnect_attempt', (attempt) => {
    setStatus('reconnecting');
    $('reconnect').textContent = `reconnect attempt ${attempt}`;
  });
  socket.on('connect_error', (err) => {
    setStatus('disconnected', `error: ${err.message}`);
    if (String(err.message).startsWith('UNAUTHORIZED')) {
      socket.disconnect();
      showLogin();
    } else if (!socket.active) {
      setTimeout(() => socket.connect(), 1000);
    }
  });
  socket.on('server:shutdown', (notice) => {
    $('banner').textContent = `${notice.message} (${new Date(notice.timestamp).toLocaleTimeString()})`;
    $('banner').hidden = false;
  });
  socket.on('error', (err) => {
    if (err && err.code === 'RATE_LIMIT') console.warn('Please slow down your requests');
    else console.warn('server error', err);
  });
  socket.on('quote:update', ({ symbol, quote }) => {
    state.quotes[symbol] = quote;
    renderQuotes();
  });
  socket.on('portfolio:update', ({ portfolio }) => {
    $('portfolio-value').textContent = `$${portfolio.value.toLocaleString(undefined, { minimumFractionDigits: 2 })}`;
    $('portfolio-pl').textContent = `day P/L ${portfolio.dayPL >= 0 ? '+' : ''}${portfolio.dayPL.toFixed(2)}`;
  });
  socket.on('trade:executed', ({ trade }) => {
    addTrade(`${trade.side.toUpperCase()} ${trade.quantity} ${trade.symbol} @ ${trade.price} — ${trade.status} (${trade.id})`, false);
  });
  socket.on('trade:failed', ({ trade }) => addTrade(`FAILED ${trade.symbol}: ${trade.error}`, true));
}

function showLogin() {
  $('login-view').hidden = false;
  $('dashboard-view').hidden = true;
}

// The order ticket talks to `/orders`, a namespace written with the Server API on the same
// engine; the client multiplexes it over the page's connection.
function connectOrders(session) {
  const orders = io('/orders', { auth: { sessionID: session.sessionID, userId: session.userId } });
  orders.on('orders:history', (history) => {
    document.body.dataset.history = String(history.length);
  });
  $('order-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const order = { symbol: $('order-symbol').value, qty: Number($('order-qty').value), side: $('order-side').value };
    try {
      const preview = await orders.timeout(3000).emitWithAck('order:preview', order);
      $('order-preview').textContent = preview.ok
        ? `${preview.side} ${preview.qty} ${preview.symbol} for ${preview.account}, fee ${preview.estimatedFee}`
        : `rejected: ${preview.error}`;
      $('order-preview').dataset.ok = String(preview.ok);
    } catch (err) {
      $('order-preview').textContent = `no answer: ${err.message}`;
      $('order-preview').dataset.ok = 'false';
    }
  });
}

async function main() {
  renderQuotes();
  const response = await fetch('/api/session');
  if (response.status !== 200) return showLogin();
  const session = await response.json();
  $('who').textContent = `${session.userName} (${session.userId})`;
  $('dashboard-view').hidden = false;
  connect(session);
  connectOrders(session);
}

$('logout').addEventListener('click', async () => {
  await fetch('/logout', { method: 'POST' });
  if (state.socket) state.socket.disconnect();
  location.reload();
});

main();

'use strict';
// The dashboard client, with the seed's client behaviour: the unmodified socket.io-client,
// auth from the Express session, reconnection with backoff (1 s → 5 s, unlimited), subscriptions
// restored after every (re)connect, a manual reconnect after `io server disconnect`, and the
// `server:shutdown` notice shown. On top: an editable watchlist with a live chart per symbol
// (TradingView's lightweight-charts), the engine's error answers as notices, a connection badge
// (transport, round-trip time, reconnects, recovery) and the account's trades.

const UNIVERSE = ['AAPL', 'MSFT', 'TSLA', 'NVDA', 'AMZN', 'GOOGL', 'META', 'NFLX', 'AMD', 'INTC', 'JPM', 'XOM'];
const CHART_SECONDS = 300;
const $ = (id) => document.getElementById(id);
const state = {
  socket: null,
  watchlist: ['AAPL', 'MSFT', 'TSLA', 'NVDA'],
  quotes: {},
  charts: {},
  trades: 0,
  reconnects: 0,
};

function setStatus(name, text) {
  const el = $('status');
  el.className = `status ${name}`;
  el.dataset.state = name;
  el.textContent = text || name;
}

function restoreSubscriptions(socket) {
  socket.emit('subscribe:portfolio');
  socket.emit('subscribe:trades');
  socket.emit('subscribe:watchlist', { symbols: state.watchlist });
}

// The engine's `error {code, message}` answers (RATE_LIMIT, SUBSCRIPTION_LIMIT,
// INVALID_PAYLOAD, …), shown until the next one or 8 s.
function showNotice(code, message) {
  const el = $('notice');
  el.textContent = code === 'RATE_LIMIT' ? `Slow down: ${message}` : `${code}: ${message}`;
  el.dataset.code = code;
  el.hidden = false;
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(() => (el.hidden = true), 8000);
}

// ---- watchlist rows and charts ----

function chartFor(symbol, cell) {
  const chart = LightweightCharts.createChart(cell, {
    width: 220,
    height: 48,
    layout: { background: { color: 'transparent' }, textColor: '#8a96a3', attributionLogo: false },
    grid: { vertLines: { visible: false }, horzLines: { visible: false } },
    rightPriceScale: { visible: false },
    timeScale: { visible: false },
    crosshair: { vertLine: { visible: false }, horzLine: { visible: false } },
    handleScroll: false,
    handleScale: false,
  });
  const series = chart.addSeries(LightweightCharts.LineSeries, { color: '#4cd07d', lineWidth: 2, priceLineVisible: false, lastValueVisible: false });
  return { chart, series, points: [] };
}

function renderWatchlist() {
  const body = $('quotes');
  for (const row of [...body.children]) {
    if (!state.watchlist.includes(row.dataset.symbol)) {
      state.charts[row.dataset.symbol]?.chart.remove();
      delete state.charts[row.dataset.symbol];
      row.remove();
    }
  }
  for (const symbol of state.watchlist) {
    if (body.querySelector(`tr[data-symbol="${symbol}"]`)) continue;
    const row = document.createElement('tr');
    row.dataset.symbol = symbol;
    row.dataset.points = '0';
    row.innerHTML = `<td>${symbol}</td><td class="price-cell">—</td><td class="change"></td><td><div class="chart"></div></td>
      <td class="remove"><button title="remove ${symbol}">×</button></td>`;
    row.querySelector('button').addEventListener('click', () => removeSymbol(symbol));
    body.append(row);
    state.charts[symbol] = chartFor(symbol, row.querySelector('.chart'));
  }
  // The whole universe, watched symbols marked (adding one again changes nothing but still
  // counts against the engine's request limit, as any subscribe does).
  const select = $('watch-symbol');
  const selected = select.value;
  select.innerHTML = UNIVERSE.map((s) => `<option value="${s}">${s}${state.watchlist.includes(s) ? ' ✓' : ''}</option>`).join('');
  if (selected) select.value = selected;
  document.body.dataset.watchlist = state.watchlist.join(',');
}

function onQuote({ symbol, quote }) {
  const row = $('quotes').querySelector(`tr[data-symbol="${symbol}"]`);
  if (!row) return;
  state.quotes[symbol] = quote;
  const priceCell = row.querySelector('.price-cell');
  priceCell.innerHTML = `<span class="price">${quote.price.toFixed(2)}</span>`;
  const change = row.querySelector('.change');
  change.className = `change ${quote.change >= 0 ? 'up' : 'down'}`;
  change.textContent = `${quote.change >= 0 ? '+' : ''}${quote.change.toFixed(2)}`;
  // One point per second (the chart's time unit), the last minutes kept.
  const chart = state.charts[symbol];
  const time = Math.floor(Date.now() / 1000);
  const last = chart.points[chart.points.length - 1];
  if (last && last.time === time) last.value = quote.price;
  else chart.points.push({ time, value: quote.price });
  while (chart.points.length > CHART_SECONDS) chart.points.shift();
  chart.series.update({ time, value: quote.price });
  row.dataset.points = String(chart.points.length);
  row.dataset.last = String(quote.price);
}

function addSymbol(symbol) {
  state.socket.timeout(5000).emit('subscribe:watchlist', { symbols: [symbol] }, (err, reply) => {
    if (err) return showNotice('TIMEOUT', `no answer to subscribe ${symbol}`);
    if (reply && reply.success === false) return; // the error event carries the notice
  });
}

function removeSymbol(symbol) {
  state.socket.emit('unsubscribe:watchlist', { symbols: [symbol] });
}

// ---- trades ----

function addTrade(trade, failed) {
  const row = document.createElement('tr');
  if (failed) row.className = 'failed';
  const time = new Date().toLocaleTimeString();
  row.innerHTML = failed
    ? `<td>${time}</td><td>—</td><td>—</td><td>${trade.symbol}</td><td>—</td><td>failed: ${trade.error}</td>`
    : `<td>${time}</td><td>${trade.side}</td><td>${trade.quantity}</td><td>${trade.symbol}</td><td>${trade.price}</td><td>${trade.status}</td>`;
  $('trades').prepend(row);
  while ($('trades').children.length > 50) $('trades').lastChild.remove();
  state.trades += 1;
  document.body.dataset.trades = String(state.trades);
}

// ---- the connection badge ----

function showTransport(socket) {
  const name = socket.io.engine?.transport?.name || '—';
  $('transport').textContent = name;
  $('transport').dataset.transport = name;
}

async function measureRtt(socket) {
  if (!socket.connected) return;
  const sent = performance.now();
  try {
    await socket.timeout(3000).emitWithAck('latency:ping', Date.now());
    const ms = performance.now() - sent;
    $('rtt').textContent = `rtt ${ms.toFixed(1)} ms`;
    $('rtt').dataset.ms = ms.toFixed(1);
  } catch {
    $('rtt').textContent = 'rtt —';
  }
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
  let everConnected = false;

  socket.on('connect', () => {
    setStatus('connected');
    $('banner').hidden = true;
    showTransport(socket);
    socket.io.engine.on('upgrade', () => showTransport(socket));
    if (everConnected) {
      state.reconnects += 1;
      $('reconnect').textContent = `${state.reconnects} reconnect${state.reconnects === 1 ? '' : 's'}`;
      const recovered = socket.recovered === true;
      $('recovered').textContent = recovered ? 'recovered without loss' : 'reconnected (not recovered)';
      $('recovered').dataset.recovered = String(recovered);
    }
    everConnected = true;
    restoreSubscriptions(socket);
    measureRtt(socket);
  });
  socket.on('connected', (welcome) => {
    document.body.dataset.socketId = welcome.socketId;
  });
  socket.on('subscribed:watchlist', (reply) => {
    for (const symbol of reply.symbols) if (!state.watchlist.includes(symbol)) state.watchlist.push(symbol);
    renderWatchlist();
  });
  socket.on('unsubscribed:watchlist', (reply) => {
    state.watchlist = state.watchlist.filter((s) => !reply.symbols.includes(s));
    renderWatchlist();
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
  socket.on('error', (err) => showNotice(err?.code || 'ERROR', err?.message || 'request refused'));
  socket.on('quote:update', onQuote);
  socket.on('portfolio:update', ({ portfolio }) => {
    $('portfolio-value').textContent = `$${portfolio.value.toLocaleString(undefined, { minimumFractionDigits: 2 })}`;
    $('portfolio-pl').textContent = `day P/L ${portfolio.dayPL >= 0 ? '+' : ''}${portfolio.dayPL.toFixed(2)}`;
  });
  socket.on('trade:executed', ({ trade }) => addTrade(trade, false));
  socket.on('trade:failed', ({ trade }) => addTrade(trade, true));
  setInterval(() => measureRtt(socket), 5000);
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
  const response = await fetch('/api/session');
  if (response.status !== 200) return showLogin();
  const session = await response.json();
  $('who').textContent = `${session.userName} (${session.userId})`;
  $('ops-link').hidden = session.userRole !== 'operator';
  $('dashboard-view').hidden = false;
  renderWatchlist();
  connect(session);
  connectOrders(session);
}

$('watch-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const symbol = $('watch-symbol').value;
  if (symbol) addSymbol(symbol);
});

$('logout').addEventListener('click', async () => {
  await fetch('/logout', { method: 'POST' });
  if (state.socket) state.socket.disconnect();
  location.reload();
});

main();

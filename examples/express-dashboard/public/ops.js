'use strict';
// The operator view: the engine's stats, pushed every second to the `/ops` namespace (operators
// only), drawn as uPlot time series with the alert thresholds of the architecture's monitoring
// section as lines; a chart's badge turns red while its latest value is past the threshold.

const WINDOW_POINTS = 600;
const $ = (id) => document.getElementById(id);

// What each chart draws from a stats sample (`rate(prev, key)` turns a counter into a rate).
const CHARTS = [
  { id: 'connections', title: 'Connections and unique users', unit: '', threshold: 5000,
    series: [['connections', (s) => s.totalConnections], ['unique users', (s) => s.uniqueUsers]] },
  { id: 'messages', title: 'Messages per second', unit: '/s',
    series: [['in', (s, r) => r('messagesIn')], ['out', (s, r) => r('messagesOut')]] },
  { id: 'latency', title: 'Event latency (ms)', unit: 'ms', threshold: 500,
    series: [['p50', (s) => s.eventLatency.p50Ms], ['p99', (s) => s.eventLatency.p99Ms]] },
  { id: 'errors', title: 'Errors and rate-limited requests per minute', unit: '/min', threshold: 10,
    series: [['errors', (s) => s.errorsPerMinute], ['rate-limited', (s, r) => r('rateLimited') * 60]] },
  { id: 'reconnections', title: 'Reconnections per minute', unit: '/min', threshold: 100,
    series: [['reconnections', (s) => s.reconnectionsPerMinute]] },
  { id: 'recovery', title: 'Slow consumers, recovered and not recovered (total)', unit: '',
    series: [['slow consumers', (s) => s.slowConsumers], ['recovered', (s) => s.recovered], ['not recovered', (s) => s.notRecovered]] },
  { id: 'memory', title: 'Memory (MB)', unit: 'MB', threshold: 1024,
    series: [['rss', (s) => s.memoryRssBytes / 1048576]] },
];
const COLORS = ['#4cd07d', '#5aa9ff', '#ffb347', '#ff6b6b'];

const charts = {};
let previous = null;

function makeChart(spec) {
  const card = document.createElement('section');
  card.className = 'card';
  card.id = `chart-${spec.id}`;
  const badge = spec.threshold === undefined ? '' : `<span class="badge" data-alert="false">≤ ${spec.threshold}${spec.unit}</span>`;
  card.innerHTML = `<h2>${spec.title} ${badge}</h2><div class="plot"></div>`;
  $('ops-view').append(card);
  const data = [[], ...spec.series.map(() => []), ...(spec.threshold === undefined ? [] : [[]])];
  const series = [{}, ...spec.series.map(([label], i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2 }))];
  if (spec.threshold !== undefined) series.push({ label: 'alert', stroke: '#ff6b6b', dash: [6, 4], width: 1 });
  const plot = new uPlot({ width: 520, height: 180, series, axes: [{ stroke: '#8a96a3' }, { stroke: '#8a96a3' }], legend: { live: false } }, data, card.querySelector('.plot'));
  charts[spec.id] = { spec, plot, data, card };
}

function onStats(sample) {
  // A new engine (a restart) starts its uptime again.
  if (!previous || sample.uptime < previous.uptime) document.body.dataset.engines = String(Number(document.body.dataset.engines || 0) + 1);
  const seconds = sample.t / 1000;
  const dt = previous ? Math.max(0.001, seconds - previous.t / 1000) : 1;
  // A counter that went down belongs to a new engine (a restart): its rate starts from zero.
  const rate = (key) => (previous && sample[key] >= previous[key] ? (sample[key] - previous[key]) / dt : 0);
  for (const { spec, plot, data, card } of Object.values(charts)) {
    data[0].push(seconds);
    spec.series.forEach(([, pick], i) => data[i + 1].push(pick(sample, rate)));
    if (spec.threshold !== undefined) data[data.length - 1].push(spec.threshold);
    if (data[0].length > WINDOW_POINTS) for (const column of data) column.shift();
    plot.setData(data);
    const latest = spec.series.map((_, i) => data[i + 1][data[i + 1].length - 1]);
    card.dataset.latest = latest.join(',');
    card.dataset.points = String(data[0].length);
    const badge = card.querySelector('.badge');
    if (badge) badge.dataset.alert = String(latest.some((v) => v > spec.threshold));
  }
  document.body.dataset.samples = String(Number(document.body.dataset.samples || 0) + 1);
  $('uptime').textContent = `engine up ${sample.uptime} s`;
  previous = sample;
}

function setStatus(name, text) {
  $('status').className = `status ${name}`;
  $('status').dataset.state = name;
  $('status').textContent = text || name;
}

async function main() {
  const response = await fetch('/api/session');
  if (response.status !== 200) return (location.href = '/');
  const session = await response.json();
  for (const spec of CHARTS) makeChart(spec);
  const auth = { sessionID: session.sessionID, userId: session.userId };
  // The page is a dashboard client too (it counts among the connections) and an operator.
  const main = io({ auth, transports: ['websocket', 'polling'] });
  const ops = io('/ops', { auth, transports: ['websocket', 'polling'] });
  // After a server-side disconnect (an engine restart) the client reconnects by hand.
  for (const socket of [main, ops]) socket.on('disconnect', (reason) => reason === 'io server disconnect' && setTimeout(() => socket.connect(), 200));
  ops.on('connect', () => setStatus('connected'));
  ops.on('disconnect', (reason) => setStatus('disconnected', `disconnected (${reason})`));
  ops.on('connect_error', (err) => {
    setStatus('disconnected', `error: ${err.message}`);
    if (err.message === 'FORBIDDEN') {
      $('denied').textContent = 'The operator view needs an operator login.';
      $('denied').hidden = false;
      ops.disconnect();
    }
  });
  ops.on('ops:stats', onStats);
  $('load').addEventListener('click', async () => {
    try {
      const result = await ops.timeout(5000).emitWithAck('ops:load', { clients: 100 });
      $('load-result').textContent = result.started ? `${result.started} clients for ${result.holdMs / 1000} s` : result.message;
    } catch (err) {
      $('load-result').textContent = `no answer: ${err.message}`;
    }
  });
}

main();

// The dashboard in a real browser (Debian chromium driven by playwright-core): log in, see
// quotes, charts and trades arrive, edit the watchlist, preview an order, receive the order
// history compressed (permessage-deflate), restart the engine and watch the page reconnect and
// restore its subscriptions, then see a rate-limit notice. Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const { start } = require('../../examples/express-dashboard/server.js');
const artifacts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../artifacts');
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let dashboard;
let browser;

before(async () => {
  dashboard = await start({ port: 0, quoteMs: 100, tradeMs: 300, statsMs: 250, allowRestart: true, engineOptions: { shutdownGrace: 100 } });
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await dashboard?.stop();
});

test('log in, see quotes and trades, survive an engine restart with subscriptions restored', async () => {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // What the browser negotiated for its WebSocket (Chromium offers permessage-deflate).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const extensions = [];
  cdp.on('Network.webSocketHandshakeResponseReceived', ({ response }) => {
    const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    extensions.push(headers['sec-websocket-extensions'] || '');
  });
  await page.goto(dashboard.url);
  await page.fill('#username', 'Erin');
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('tr[data-symbol=AAPL] .price'), null, { timeout: 10_000 });
  await page.waitForFunction(() => Number(document.body.dataset.trades || 0) >= 1, null, { timeout: 10_000 });
  assert.equal(await page.textContent('#who'), 'Erin (user-erin)');
  assert.equal(await page.getAttribute('body', 'data-watchlist'), 'AAPL,MSFT,TSLA,NVDA');
  // The order ticket: the /orders namespace (Server API) answers with an ack.
  await page.fill('#order-qty', '250');
  await page.selectOption('#order-symbol', 'TSLA');
  await page.click('#order-form button[type=submit]');
  await page.waitForSelector('#order-preview[data-ok=true]', { timeout: 10_000 });
  assert.equal(await page.textContent('#order-preview'), 'buy 250 TSLA for user-erin, fee 1.25');
  await page.fill('#order-qty', '0');
  await page.click('#order-form button[type=submit]');
  await page.waitForSelector('#order-preview[data-ok=false]', { timeout: 10_000 });
  assert.equal(await page.textContent('#order-preview'), 'rejected: qty must be 1 to 10000');
  // The order history (a few KiB of JSON) arrived whole, over a deflate-compressed WebSocket.
  await page.waitForFunction(() => document.body.dataset.history === '40', null, { timeout: 10_000 });
  assert.ok(extensions.some((e) => e.startsWith('permessage-deflate')), `negotiated: ${extensions}`);
  const metrics = await (await fetch(`${dashboard.url}/metrics`)).text();
  assert.ok(Number(/roomcast_ws_deflated_frames_total (\d+)/.exec(metrics)[1]) >= 1, 'sent compressed');
  // A live chart per symbol: it has points, and they move.
  await page.waitForFunction(() => Number(document.querySelector('tr[data-symbol=AAPL]').dataset.points) >= 2, null, { timeout: 10_000 });
  const before = await page.evaluate(() => document.querySelector('tr[data-symbol=AAPL]').dataset.points + '/' + document.querySelector('tr[data-symbol=AAPL]').dataset.last);
  await page.waitForFunction((b) => {
    const row = document.querySelector('tr[data-symbol=AAPL]');
    return `${row.dataset.points}/${row.dataset.last}` !== b;
  }, before, { timeout: 10_000 });
  assert.ok(await page.locator('tr[data-symbol=AAPL] .chart canvas').count() > 0, 'the chart is drawn');
  // The watchlist is editable: add a symbol of the universe, see its quotes, remove it.
  await page.selectOption('#watch-symbol', 'AMD');
  await page.click('#watch-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('tr[data-symbol=AMD] .price'), null, { timeout: 10_000 });
  assert.equal(await page.getAttribute('body', 'data-watchlist'), 'AAPL,MSFT,TSLA,NVDA,AMD');
  await page.click('tr[data-symbol=AMD] td.remove button');
  await page.waitForFunction(() => !document.querySelector('tr[data-symbol=AMD]') && document.body.dataset.watchlist === 'AAPL,MSFT,TSLA,NVDA', null, { timeout: 10_000 });
  // The badge: transport and a measured round trip; the account's trades as a table.
  assert.equal(await page.textContent('#transport'), 'websocket');
  await page.waitForFunction(() => Number(document.querySelector('#rtt').dataset.ms) > 0, null, { timeout: 10_000 });
  assert.match(await page.textContent('#trades tr:first-child'), /filled|failed/);
  const firstSocket = await page.getAttribute('body', 'data-socket-id');

  // Restart the engine (as a deploy would). The page sees server:shutdown, then
  // 'io server disconnect', reconnects by hand and re-subscribes.
  await page.evaluate(() => {
    delete document.body.dataset.watchlist;
    document.querySelector('#quotes').innerHTML = '';
  });
  const restart = await fetch(`${dashboard.url}/admin/restart-engine`, { method: 'POST' });
  assert.equal(restart.status, 200);
  await page.waitForFunction((old) => document.body.dataset.socketId && document.body.dataset.socketId !== old, firstSocket, { timeout: 15_000 });
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });
  await page.waitForFunction(() => document.body.dataset.watchlist === 'AAPL,MSFT,TSLA,NVDA', null, { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('tr[data-symbol=TSLA] .price'), null, { timeout: 10_000 });
  const tradesBefore = Number(await page.getAttribute('body', 'data-trades'));
  await page.waitForFunction((n) => Number(document.body.dataset.trades) > n, tradesBefore, { timeout: 10_000 });

  assert.equal(await page.getAttribute('#recovered', 'data-recovered'), 'false', 'a new engine cannot recover the old sessions');
  assert.equal(await page.textContent('#reconnect'), '1 reconnect');

  // Adding faster than the engine's per-user limit (10 subscribe requests a minute) shows its
  // RATE_LIMIT answer as a notice.
  for (let i = 0; i < 12; i++) await page.click('#watch-form button[type=submit]');
  await page.waitForSelector('#notice[data-code=RATE_LIMIT]', { timeout: 10_000 });
  assert.match(await page.textContent('#notice'), /^Slow down: /);

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  assert.deepEqual(consoleErrors, []);
});

// Log in as an operator on a fresh browser profile.
async function operatorPage(name) {
  const page = await browser.newPage();
  await page.goto(dashboard.url);
  await page.fill('#username', name);
  await page.check('#operator');
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });
  return page;
}

const latest = (page, chart) => page.evaluate((id) => (document.querySelector(`#chart-${id}`)?.dataset.latest || '').split(',').map(Number), chart);

test('an operator watches the engine: live charts with alert lines, a restart dips and recovers, a load burst', async () => {
  const trader = await operatorPage('Olga');
  assert.equal(await trader.isVisible('#ops-link'), true, 'operators get the link');
  const page = await browser.newPage();
  // The same browser profile as the trader page? No: a new page is a new context, so log in.
  await page.goto(dashboard.url);
  await page.fill('#username', 'Olga');
  await page.check('#operator');
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });
  await page.goto(`${dashboard.url}/ops`);
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });
  await page.waitForFunction(() => Number(document.body.dataset.samples) >= 3, null, { timeout: 10_000 });
  // Seven charts, each drawn; the connection chart counts this page and the trader page.
  assert.equal(await page.locator('.card .uplot').count(), 7);
  await page.waitForFunction(() => Number(document.querySelector('#chart-connections').dataset.latest.split(',')[0]) >= 2, null, { timeout: 10_000 });
  const [before] = await latest(page, 'connections');
  assert.equal(await page.getAttribute('#chart-connections .badge', 'data-alert'), 'false');
  assert.equal(await page.getAttribute('#chart-latency .badge', 'data-alert'), 'false');

  // Restart the engine: this page is back within 200 ms, the trader page after 1 s, so the
  // chart dips below what it showed and climbs back.
  const seen = [];
  const watch = setInterval(async () => seen.push((await latest(page, 'connections'))[0]), 100);
  const restart = await fetch(`${dashboard.url}/admin/restart-engine`, { method: 'POST' });
  assert.equal(restart.status, 200);
  await page.waitForFunction((n) => document.body.dataset.engines === '2'
    && Number(document.querySelector('#chart-connections').dataset.latest.split(',')[0]) >= n, before, { timeout: 15_000 });
  clearInterval(watch);
  const dip = seen.findIndex((n) => n < before);
  assert.ok(dip >= 0, `a dip below ${before}: ${seen}`);
  assert.ok(seen.slice(dip).some((n) => n >= before) || (await latest(page, 'connections'))[0] >= before, 'and back');
  await trader.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });

  // The load button starts a bounded burst of simulated clients inside the demo process.
  await page.click('#load');
  await page.waitForFunction(() => /^100 clients/.test(document.querySelector('#load-result').textContent), null, { timeout: 10_000 });
  await page.waitForFunction((n) => Number(document.querySelector('#chart-connections').dataset.latest.split(',')[0]) >= n + 50, before, { timeout: 15_000 });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'ops.png'), fullPage: true });
});

test('the operator view refuses a login without the operator role', async () => {
  const page = await browser.newPage();
  await page.goto(dashboard.url);
  await page.fill('#username', 'Una');
  await page.click('button[type=submit]');
  await page.waitForSelector('#status[data-state=connected]', { timeout: 10_000 });
  assert.equal(await page.isVisible('#ops-link'), false);
  await page.goto(`${dashboard.url}/ops`);
  await page.waitForSelector('#denied:not([hidden])', { timeout: 10_000 });
  assert.equal(await page.textContent('#denied'), 'The operator view needs an operator login.');
});

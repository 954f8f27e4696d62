// The dashboard in a real browser (Debian chromium driven by playwright-core): log in, see
// quotes and a trade arrive, preview an order, receive the order history compressed
// (permessage-deflate), restart the engine, and watch the page reconnect and restore its
// subscriptions. A screenshot is saved to tests/artifacts/.
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
  dashboard = await start({ port: 0, quoteMs: 100, tradeMs: 300, allowRestart: true, engineOptions: { shutdownGrace: 100 } });
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

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  assert.deepEqual(consoleErrors, []);
});

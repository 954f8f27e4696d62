'use strict';
// The simulated side of the dashboard backend: a trade executor (an EventEmitter, as in the
// seed) that turns fake signals into executed or failed trades, a quote feed with a random
// walk per symbol, and portfolio values per user.

const { EventEmitter } = require('node:events');

// The universe a user can watch: the feed quotes every one of them.
const SYMBOLS = ['AAPL', 'MSFT', 'TSLA', 'NVDA', 'AMZN', 'GOOGL', 'META', 'NFLX', 'AMD', 'INTC', 'JPM', 'XOM'];

class TradeExecutor extends EventEmitter {
  executeTrade(signal) {
    const orderId = `ord-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
    if (Math.random() < 0.1) {
      this.emit('trade:failed', {
        userId: signal.userId,
        trade: { symbol: signal.symbol, error: 'Insufficient buying power' },
      });
      return;
    }
    this.emit('trade:executed', {
      userId: signal.userId,
      trade: {
        id: orderId,
        symbol: signal.symbol,
        side: signal.side,
        quantity: signal.quantity,
        price: signal.price,
        status: 'filled',
      },
    });
  }
}

class QuoteFeed {
  constructor() {
    this.prices = Object.fromEntries(SYMBOLS.map((s, i) => [s, 100 + i * 50]));
  }

  tick() {
    return SYMBOLS.map((symbol) => {
      const before = this.prices[symbol];
      const after = Math.max(1, before * (1 + (Math.random() - 0.5) * 0.004));
      this.prices[symbol] = after;
      return { symbol, quote: { price: Number(after.toFixed(2)), change: Number((after - before).toFixed(2)) } };
    });
  }

  price(symbol) {
    return Number(this.prices[symbol].toFixed(2));
  }
}

// Wires the simulation to a roomcast WebSocketServer (looked up on every tick, so the engine
// can be replaced). Returns a stop function.
function startSimulation(getServer, { quoteMs = 500, tradeMs = 2000 } = {}) {
  const executor = new TradeExecutor();
  const quotes = new QuoteFeed();
  const portfolios = new Map();

  // As in the seed's src/index.js: the executor's events go to the user's connections.
  executor.on('trade:executed', (data) => getServer().emitToUser(data.userId, 'trade:executed', data));
  executor.on('trade:failed', (data) => getServer().emitToUser(data.userId, 'trade:failed', data));

  const quoteTimer = setInterval(() => {
    const items = quotes.tick().map((q) => ({ room: `watchlist:${q.symbol}`, event: 'quote:update', data: q }));
    getServer().emitBatch(items);
  }, quoteMs);

  const tradeTimer = setInterval(() => {
    for (const userId of getServer().connectedUsers()) {
      const symbol = SYMBOLS[Math.floor(Math.random() * SYMBOLS.length)];
      executor.executeTrade({
        userId,
        symbol,
        side: Math.random() < 0.5 ? 'buy' : 'sell',
        quantity: 1 + Math.floor(Math.random() * 20),
        price: quotes.price(symbol),
      });
      const value = (portfolios.get(userId) || 125000) + (Math.random() - 0.48) * 800;
      portfolios.set(userId, value);
      getServer().emitToRoom(`portfolio:${userId}`, 'portfolio:update', {
        userId,
        portfolio: { value: Number(value.toFixed(2)), dayPL: Number((value - 125000).toFixed(2)) },
      });
    }
  }, tradeMs);

  return { executor, stop: () => (clearInterval(quoteTimer), clearInterval(tradeTimer)) };
}

module.exports = { SYMBOLS, TradeExecutor, QuoteFeed, startSimulation };

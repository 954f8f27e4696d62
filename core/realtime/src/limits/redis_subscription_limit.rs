//! `RedisSubscriptionCounter`: the per-user subscription cap across a cluster. Counts live in
//! Redis as one hash per user (`{<prefix>}:subs:<user>`), one field per node; each node keeps a
//! liveness key (`{<prefix>}:node:<id>`) with a short expiry that it refreshes. The braces are
//! a hash tag: on a Redis Cluster every one of these keys lives in one slot, which the script
//! below needs (it reads liveness keys it is not given). Reserving runs as
//! one Lua script that drops the fields of nodes whose liveness key expired (a node that died
//! does not leave its users' counts behind), sums the rest and increments only within the cap.
//!
//! The engine's subscription handlers are synchronous, and subscription requests are rare
//! (rate limited), so a reservation waits for its one round trip (see `RedisCommands::wait`);
//! releases are sent without waiting. When Redis is unreachable the node falls back to its own
//! count, so subscriptions keep working (capped per node) instead of failing.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::subscription_limit::{LocalSubscriptionCounter, SubscriptionCounter};
use roomcast_engine::adapters::redis::commands::RedisCommands;
use roomcast_engine::adapters::redis::endpoint::RedisEndpoint;
use roomcast_engine::error::Error;

const RESERVE: &str = r#"
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[4] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
return 1
"#;

const RELEASE: &str = r#"
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left
"#;

const COUNT: &str = r#"
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[1] .. fields[i]) == 1 then total = total + tonumber(fields[i + 1]) end
end
return total
"#;

pub struct RedisSubscriptionCounter {
    redis: RedisCommands,
    node_id: String,
    prefix: String,
    node_ttl: Duration,
    local: LocalSubscriptionCounter,
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl RedisSubscriptionCounter {
    pub fn new(
        endpoint: RedisEndpoint,
        prefix: &str,
        node_ttl: Duration,
    ) -> Result<Arc<Self>, Error> {
        Ok(Arc::new(Self {
            redis: RedisCommands::open(endpoint)?,
            node_id: roomcast_engine::ids::new_wire_id().to_string(),
            prefix: format!("{{{prefix}:roomcast}}"),
            node_ttl,
            local: LocalSubscriptionCounter::default(),
            heartbeat: Mutex::new(None),
        }))
    }

    fn user_key(&self, user: &str) -> String {
        format!("{}:subs:{user}", self.prefix)
    }

    fn node_prefix(&self) -> String {
        format!("{}:node:", self.prefix)
    }

    /// Keeps this node's liveness key alive (refreshed at a third of its expiry).
    pub fn start_heartbeat(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        let period = self.node_ttl / 3;
        let task = tokio::spawn(async move {
            loop {
                let Some(counter) = this.upgrade() else {
                    return;
                };
                let key = format!("{}{}", counter.node_prefix(), counter.node_id);
                let ttl = counter.node_ttl.as_millis() as u64;
                let set = redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("PX")
                    .arg(ttl)
                    .clone();
                let _ = counter.redis.run::<()>(set).await;
                drop(counter);
                tokio::time::sleep(period).await;
            }
        });
        *self.heartbeat.lock() = Some(task);
    }

    /// Stops the heartbeat and removes this node's liveness key (its counts stop counting).
    pub async fn stop(&self) {
        if let Some(task) = self.heartbeat.lock().take() {
            task.abort();
        }
        let key = format!("{}{}", self.node_prefix(), self.node_id);
        let _ = self
            .redis
            .run::<()>(redis::cmd("DEL").arg(&key).clone())
            .await;
    }
}

impl SubscriptionCounter for RedisSubscriptionCounter {
    fn try_reserve(&self, user: &str, n: u32, max: u32) -> bool {
        let args = [
            self.node_id.clone(),
            n.to_string(),
            max.to_string(),
            self.node_prefix(),
        ];
        let cluster =
            self.redis
                .wait::<i64>(RedisCommands::script(RESERVE, self.user_key(user), &args));
        match cluster {
            Some(1) => {
                // Mirror locally so a Redis outage later still knows this node's share.
                self.local.try_reserve(user, n, u32::MAX);
                true
            }
            Some(_) => false,
            None => self.local.try_reserve(user, n, max),
        }
    }

    fn release(&self, user: &str, n: u32) {
        if n == 0 {
            return;
        }
        self.local.release(user, n);
        let args = [self.node_id.clone(), n.to_string()];
        // Issued in order behind this node's earlier commands; nobody needs the answer.
        self.redis
            .send(RedisCommands::script(RELEASE, self.user_key(user), &args));
    }

    fn count(&self, user: &str) -> u32 {
        let args = [self.node_prefix()];
        self.redis
            .wait::<i64>(RedisCommands::script(COUNT, self.user_key(user), &args))
            .map(|n| n.max(0) as u32)
            .unwrap_or_else(|| self.local.count(user))
    }
}

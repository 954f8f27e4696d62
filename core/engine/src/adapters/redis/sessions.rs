//! Saved recovery sessions in Redis (`<prefix>:roomcast<namespace>:session:<pid>`, expiring with
//! the recovery window), so a client that reconnects to another node still recovers.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::commands::RedisCommands;
use crate::socketio::recovery::SessionStore;

pub struct RedisSessions {
    pub redis: Arc<RedisCommands>,
    pub prefix: String,
}

impl RedisSessions {
    fn key(&self, pid: &str) -> String {
        format!("{}:session:{pid}", self.prefix)
    }
}

impl SessionStore for RedisSessions {
    /// SET … PX, sent without waiting but in order before any later command of this node.
    fn save(&self, pid: &str, json: String, ttl_ms: u64) {
        let cmd = redis::cmd("SET")
            .arg(self.key(pid))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms)
            .clone();
        self.redis.send(cmd);
    }

    /// GETDEL: a session is restored at most once, on whichever node gets it first.
    fn take(&self, pid: &str) -> BoxFuture<'static, Option<String>> {
        let redis = self.redis.clone();
        let cmd = redis::cmd("GETDEL").arg(self.key(pid)).clone();
        Box::pin(async move {
            match redis.run::<Option<String>>(cmd).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(%error, "redis unavailable: session not recoverable");
                    None
                }
            }
        })
    }
}

//! `RedisSessionLocator`: where the other nodes' sessions are, so that a request for one of them
//! is relayed to its owner (`engineio::forward`) and a load balancer needs no sticky sessions.
//!
//! Each node has a tag (four characters of the id alphabet) that its session ids start with,
//! and announces the address it takes relayed requests at under `<prefix>:roomcast:relay:<tag>`
//! (rewritten every few seconds, expiring when the node stops). A node looks a tag up once and
//! keeps the answer for a few seconds, so relaying costs no Redis round trip per request.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::commands::RedisCommands;
use crate::engineio::forward::SessionLocator;

const TAG_LEN: usize = 4;
const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);
const ANNOUNCE_TTL: Duration = Duration::from_secs(15);
const KEEP_LOOKUP: Duration = Duration::from_secs(5);

pub struct RedisSessionLocator {
    tag: String,
    prefix: String,
    commands: Arc<RedisCommands>,
    /// Tag → address, with when it was looked up.
    known: Arc<Mutex<HashMap<String, (String, Instant)>>>,
    announcer: Mutex<Option<JoinHandle<()>>>,
}

impl RedisSessionLocator {
    pub fn new(prefix: &str, commands: Arc<RedisCommands>) -> Arc<Self> {
        Arc::new(Self {
            tag: crate::ids::new_wire_id()[..TAG_LEN].to_owned(),
            prefix: format!("{prefix}:roomcast:relay:"),
            commands,
            known: Arc::default(),
            announcer: Mutex::new(None),
        })
    }

    fn key(&self, tag: &str) -> String {
        format!("{}{tag}", self.prefix)
    }

    /// From now on, other nodes relay requests for this node's sessions to `address`
    /// (`host:port`, reachable from them). Must run inside a tokio runtime.
    pub fn announce(self: &Arc<Self>, address: String) {
        let this: Weak<Self> = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            loop {
                let Some(locator) = this.upgrade() else {
                    return;
                };
                let set = redis::cmd("SET")
                    .arg(locator.key(&locator.tag))
                    .arg(&address)
                    .arg("PX")
                    .arg(ANNOUNCE_TTL.as_millis() as u64)
                    .clone();
                if let Err(error) = locator.commands.run::<()>(set).await {
                    tracing::warn!(%error, "cannot announce the relay address");
                }
                drop(locator);
                tokio::time::sleep(ANNOUNCE_EVERY).await;
            }
        });
        if let Some(previous) = self.announcer.lock().replace(task) {
            previous.abort();
        }
    }

    /// Stops announcing and withdraws the address (shutdown).
    pub fn withdraw(&self) {
        if let Some(task) = self.announcer.lock().take() {
            task.abort();
            self.commands
                .send(redis::cmd("DEL").arg(self.key(&self.tag)).clone());
        }
    }
}

impl Drop for RedisSessionLocator {
    fn drop(&mut self) {
        if let Some(task) = self.announcer.lock().take() {
            task.abort();
        }
    }
}

impl SessionLocator for RedisSessionLocator {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn owner(&self, sid: &str) -> BoxFuture<'static, Option<String>> {
        let Some(tag) = sid.get(..TAG_LEN).map(str::to_owned) else {
            return Box::pin(async { None });
        };
        if let Some((address, at)) = self.known.lock().get(&tag) {
            if at.elapsed() < KEEP_LOOKUP {
                let address = address.clone();
                return Box::pin(async move { Some(address) });
            }
        }
        let get = redis::cmd("GET").arg(self.key(&tag)).clone();
        let commands = self.commands.clone();
        let known = self.known.clone();
        Box::pin(async move {
            let address = commands.run::<Option<String>>(get).await.ok().flatten()?;
            known.lock().insert(tag, (address.clone(), Instant::now()));
            Some(address)
        })
    }
}

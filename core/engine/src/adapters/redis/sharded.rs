//! The sharded transport: one Redis Cluster connection (RESP3) that `SPUBLISH`es what the
//! adapter sends and `SSUBSCRIBE`s to the channels it listens on. Each channel lives on the
//! master that owns its slot; the `redis` crate follows `MOVED`/`ASK`, reconnects, and
//! re-subscribes where a slot moved (a fail-over), so a shard that goes down stops only the
//! channels it owns.
//!
//! `connected` is honest: it drops at once when a node connection is lost, and a probe (once a
//! second) sets it back only when every slot has a master that is not failing and answers;
//! then every channel is subscribed again, on whichever master owns its slot now.
//!
//! A single standalone Redis 7 (no cluster mode) has sharded pub/sub too: there the link is one
//! RESP3 connection, reopened by the probe after an outage.
//!
//! With connection-state recovery on, a room's channel stays subscribed for the recovery window
//! after its last member here left: a socket that dropped may come back to this node, which
//! must then have logged every broadcast to its rooms meanwhile (from any node) to replay them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{FromRedisValue, PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc;

use super::endpoint::{standalone_instead, RedisEndpoint};
use super::subscriber::{Change, Receiver, Subscriptions};
use super::PIPELINE_MAX;
use crate::clock::now_ms;
use crate::stats::Stats;

const PROBE_EVERY: Duration = Duration::from_secs(1);

/// What the transport task owns.
pub(crate) struct ShardedLink {
    pub nodes: Vec<String>,
    pub receiver: Receiver,
    pub subscriptions: Subscriptions,
    pub changes: mpsc::UnboundedReceiver<Change>,
    pub outbox: mpsc::Receiver<(String, Vec<u8>)>,
    pub stats: Arc<Stats>,
    /// Room channels kept after their last member left, until the recovery window passed.
    pub lingering: HashMap<String, Lingering>,
}

/// A room channel kept subscribed for sockets that may come back and recover.
pub(crate) struct Lingering {
    namespace: String,
    room: String,
    until_ms: u64,
}

/// The connection the link runs on: to a Redis Cluster, or to one standalone Redis.
enum Link {
    Cluster(ClusterConnection),
    Single(MultiplexedConnection),
}

async fn connect(nodes: &[String], pushes: mpsc::UnboundedSender<PushInfo>) -> RedisResult<Link> {
    let cluster = RedisEndpoint::cluster_builder(nodes)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(pushes.clone())
        .build()?
        .get_async_connection()
        .await;
    match cluster {
        Ok(connection) => Ok(Link::Cluster(connection)),
        Err(error) => match standalone_instead(nodes, &error) {
            Some(RedisEndpoint::Single(client)) => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_push_sender(pushes);
                let client = redis::Client::open(resp3(client.get_connection_info()))?;
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(Link::Single(connection))
            }
            _ => Err(error),
        },
    }
}

/// The same server, spoken to in RESP3 (pushes carry the sharded messages).
fn resp3(info: &redis::ConnectionInfo) -> redis::ConnectionInfo {
    let redis = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    info.clone().set_redis_settings(redis)
}

impl Link {
    /// `SSUBSCRIBE`s (`on`) or `SUNSUBSCRIBE`s `channel`. One channel per command: channels of
    /// one command must share a slot on a cluster.
    async fn follow(&mut self, channel: &str, on: bool) -> RedisResult<()> {
        match (self, on) {
            (Self::Cluster(connection), true) => connection.ssubscribe(channel).await,
            (Self::Cluster(connection), false) => connection.sunsubscribe(channel).await,
            (Self::Single(connection), on) => {
                let command = if on { "SSUBSCRIBE" } else { "SUNSUBSCRIBE" };
                redis::cmd(command)
                    .arg(channel)
                    .query_async::<Value>(connection)
                    .await
                    .map(drop)
            }
        }
    }

    /// `SPUBLISH`es on a handle of its own, so many can be in flight at once.
    async fn spublish(&self, channel: &str, payload: &[u8]) -> RedisResult<i64> {
        let cmd = redis::cmd("SPUBLISH").arg(channel).arg(payload).clone();
        match self {
            Self::Cluster(connection) => cmd.query_async(&mut connection.clone()).await,
            Self::Single(connection) => cmd.query_async(&mut connection.clone()).await,
        }
    }

    /// Whether every channel can flow: every slot's master answers (cluster), or the server does.
    async fn is_whole(&mut self) -> bool {
        match self {
            Self::Cluster(connection) => cluster_is_whole(connection).await,
            Self::Single(connection) => redis::cmd("PING")
                .query_async::<String>(connection)
                .await
                .is_ok(),
        }
    }

    /// A standalone connection does not come back by itself after an outage; a cluster
    /// connection does (the `redis` crate reconnects its nodes).
    fn reopens_itself(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ShardedLink {
    pub async fn run(mut self) {
        let (pushes, mut pushed) = mpsc::unbounded_channel();
        let mut connection = self.connect_with_backoff(pushes.clone()).await;
        let subscribed = self.subscribe_all(&mut connection).await;
        self.receiver.connected.store(subscribed, Ordering::Release);
        tracing::info!(nodes = ?self.nodes, "redis sharded adapter subscribed");
        let mut probe = tokio::time::interval(PROBE_EVERY);
        let mut batch = Vec::with_capacity(PIPELINE_MAX);
        loop {
            tokio::select! {
                Some(push) = pushed.recv() => self.on_push(push),
                received = self.outbox.recv_many(&mut batch, PIPELINE_MAX) => {
                    if received == 0 {
                        return; // the adapter is gone
                    }
                    self.publish(&connection, &batch).await;
                    batch.clear();
                }
                Some(change) = self.changes.recv() => self.apply(&mut connection, change).await,
                _ = probe.tick() => {
                    self.expire_lingering(&mut connection).await;
                    let mut up = connection.is_whole().await;
                    if !up && !connection.reopens_itself() {
                        if let Ok(fresh) = connect(&self.nodes, pushes.clone()).await {
                            connection = fresh;
                            up = connection.is_whole().await;
                        }
                    }
                    if !up {
                        // Some channel may have missed messages: none has flowed unbroken.
                        self.subscriptions.lost();
                    }
                    let was_up = self.receiver.connected.swap(up, Ordering::AcqRel);
                    if up && !was_up {
                        // Back after an outage: a fail-over may have moved slots to masters
                        // this connection never subscribed on. Subscribing again is harmless
                        // where nothing moved (a channel is never subscribed twice); until
                        // it all worked, the adapter stays down and the next probe retries.
                        let subscribed = self.subscribe_all(&mut connection).await;
                        self.receiver.connected.store(subscribed, Ordering::Release);
                        tracing::info!(subscribed, "redis sharded adapter subscribing again");
                    }
                }
            }
        }
    }

    /// Until the cluster answers; what the adapter sends meanwhile is dropped (and counted), as
    /// it would be on a connection that is down.
    async fn connect_with_backoff(&mut self, pushes: mpsc::UnboundedSender<PushInfo>) -> Link {
        let mut backoff = Duration::from_millis(100);
        loop {
            match connect(&self.nodes, pushes.clone()).await {
                Ok(connection) => return connection,
                Err(error) => tracing::warn!(%error, "redis cluster unreachable"),
            }
            let mut dropped = 0;
            while self.outbox.try_recv().is_ok() {
                dropped += 1;
            }
            self.stats.dropped.fetch_add(dropped, Ordering::Relaxed);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Everything known so far, room channels settled by membership now.
    /// Returns whether every channel was subscribed.
    async fn subscribe_all(&mut self, connection: &mut Link) -> bool {
        let mut recovering = Vec::new();
        while let Ok(change) = self.changes.try_recv() {
            match change {
                Change::Room {
                    namespace,
                    room,
                    channel,
                } => {
                    self.decide(&namespace, &room, &channel);
                }
                Change::Follow {
                    namespace,
                    rooms,
                    done,
                } => {
                    for (room, channel) in &rooms {
                        self.subscriptions.settle(channel, true);
                        if !self.receiver.has_members(&namespace, room) {
                            self.linger(&namespace, room, channel);
                        }
                    }
                    recovering.push((rooms, done));
                }
                Change::Subscribe(_) => {}
            }
        }
        let mut all_subscribed = true;
        for channel in self.subscriptions.all() {
            match connection.follow(&channel, true).await {
                Ok(()) => self.subscriptions.confirmed(&channel),
                Err(error) => {
                    tracing::warn!(%error, channel, "redis ssubscribe failed");
                    all_subscribed = false;
                }
            }
        }
        for (rooms, done) in recovering {
            let _ = done.send(self.subscriptions.all_flowing(&rooms));
        }
        all_subscribed
    }

    /// What a change to `room`'s membership means for its channel now: subscribe (true),
    /// unsubscribe (false) or nothing (None). A room that lost its last member while its
    /// namespace recovers sockets lingers instead of going.
    fn decide(&mut self, namespace: &str, room: &str, channel: &str) -> Option<bool> {
        let wanted = self.receiver.has_members(namespace, room);
        if wanted {
            self.lingering.remove(channel);
        } else if self.subscriptions.contains(channel) && self.linger(namespace, room, channel) {
            return None;
        }
        self.subscriptions.settle(channel, wanted).then_some(wanted)
    }

    /// Keeps `room`'s channel for the recovery window of its namespace; false when the
    /// namespace recovers no sockets.
    fn linger(&mut self, namespace: &str, room: &str, channel: &str) -> bool {
        let Some(window) = self.receiver.recovery_window(namespace) else {
            return false;
        };
        let lingering = Lingering {
            namespace: namespace.to_owned(),
            room: room.to_owned(),
            until_ms: now_ms() + window.as_millis() as u64,
        };
        self.lingering.insert(channel.to_owned(), lingering);
        true
    }

    /// Subscribes to a recovering socket's room channels, each kept for the recovery window
    /// unless a socket joins its room; tells `done` whether they all flow.
    async fn follow_for_recovery(
        &mut self,
        connection: &mut Link,
        namespace: &str,
        rooms: &[(String, String)],
    ) -> bool {
        for (room, channel) in rooms {
            if self.subscriptions.settle(channel, true) {
                match connection.follow(channel, true).await {
                    Ok(()) => self.subscriptions.confirmed(channel),
                    Err(error) => tracing::warn!(%error, channel, "redis ssubscribe failed"),
                }
            }
            if !self.receiver.has_members(namespace, room) {
                self.linger(namespace, room, channel);
            }
        }
        self.subscriptions.all_flowing(rooms)
    }

    /// Unsubscribes the lingering channels whose window passed and whose room is still empty.
    async fn expire_lingering(&mut self, connection: &mut Link) {
        let now = now_ms();
        let due: Vec<String> = self
            .lingering
            .iter()
            .filter(|(_, l)| l.until_ms <= now)
            .map(|(channel, _)| channel.clone())
            .collect();
        for channel in due {
            let Some(lingering) = self.lingering.remove(&channel) else {
                continue;
            };
            let wanted = self
                .receiver
                .has_members(&lingering.namespace, &lingering.room);
            if !wanted && self.subscriptions.settle(&channel, false) {
                if let Err(error) = connection.follow(&channel, false).await {
                    tracing::warn!(%error, channel, "redis sunsubscribe failed");
                }
            }
        }
    }

    async fn apply(&mut self, connection: &mut Link, change: Change) {
        match change {
            Change::Subscribe(channels) => {
                for channel in channels {
                    match connection.follow(&channel, true).await {
                        Ok(()) => self.subscriptions.confirmed(&channel),
                        Err(error) => tracing::warn!(%error, channel, "redis ssubscribe failed"),
                    }
                }
            }
            Change::Follow {
                namespace,
                rooms,
                done,
            } => {
                let flowing = self
                    .follow_for_recovery(connection, &namespace, &rooms)
                    .await;
                let _ = done.send(flowing);
            }
            Change::Room {
                namespace,
                room,
                channel,
            } => {
                let Some(wanted) = self.decide(&namespace, &room, &channel) else {
                    return;
                };
                let done = connection.follow(&channel, wanted).await;
                match done {
                    Ok(()) if wanted => self.subscriptions.confirmed(&channel),
                    Ok(()) => {}
                    Err(error) => {
                        tracing::warn!(%error, channel, wanted, "redis room channel change failed")
                    }
                }
            }
        }
    }

    fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::SMessage => match (push.data.first(), push.data.get(1)) {
                (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) => {
                    let channel = String::from_utf8_lossy(channel);
                    self.receiver.handle_sharded(&channel, payload)
                }
                _ => tracing::debug!("redis smessage without channel or payload ignored"),
            },
            PushKind::Disconnection => {
                tracing::warn!("redis cluster node connection lost");
                self.receiver.connected.store(false, Ordering::Release);
                self.subscriptions.lost();
            }
            _ => {}
        }
    }

    /// One `SPUBLISH` per message, all in flight at once: the connection writes them in order
    /// per node, and a channel always maps to one node.
    async fn publish(&self, connection: &Link, batch: &[(String, Vec<u8>)]) {
        let sends = batch
            .iter()
            .map(|(channel, payload)| connection.spublish(channel, payload));
        let failed = join_all(sends)
            .await
            .into_iter()
            .filter(Result::is_err)
            .count();
        if failed > 0 {
            tracing::warn!(
                failed,
                "redis spublish failed: messages not sent to other nodes"
            );
            self.stats
                .dropped
                .fetch_add(failed as u64, Ordering::Relaxed);
        }
    }
}

/// Whether every slot has a master that this node reaches: the cluster's own view
/// (`CLUSTER NODES` from any node: no slot-owning master flagged failing) and a `PING` to each
/// slot-owning master, by address.
async fn cluster_is_whole(connection: &mut ClusterConnection) -> bool {
    let view = connection
        .route_command(
            redis::cmd("CLUSTER").arg("NODES").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
        )
        .await;
    let Some(view) = view.ok().and_then(|v| String::from_redis_value(v).ok()) else {
        return false;
    };
    let Some(masters) = slot_owning_masters(&view) else {
        return false; // one of them is flagged failing
    };
    for (host, port) in masters {
        let ping = connection
            .route_command(
                redis::cmd("PING"),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port }),
            )
            .await;
        if ping.is_err() {
            return false;
        }
    }
    true
}

/// The addresses of the masters that own slots, from `CLUSTER NODES` (lines of `id
/// ip:port@bus[,hostname] flags master ping pong epoch link slot…`); None when one of them is
/// flagged `fail` or `fail?`.
fn slot_owning_masters(view: &str) -> Option<Vec<(String, u16)>> {
    let mut masters = Vec::new();
    for line in view.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        if !flags.contains("master") || fields.len() <= 8 {
            continue;
        }
        if flags.contains("fail") {
            return None;
        }
        let address = address.split(['@', ',']).next().unwrap_or_default();
        let Some((host, port)) = address.rsplit_once(':') else {
            continue;
        };
        if let Ok(port) = port.parse() {
            masters.push((host.to_owned(), port));
        }
    }
    Some(masters)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: &str = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002,host master - 0 0 3 connected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 127.0.0.1:7004@17004 master,fail - 0 0 4 disconnected
";

    #[test]
    fn masters_with_slots_are_listed_and_a_failing_one_fails_the_view() {
        let masters = slot_owning_masters(VIEW).unwrap();
        let ports: Vec<u16> = masters.iter().map(|(_, p)| *p).collect();
        assert_eq!(
            ports,
            [7000, 7001, 7002],
            "replicas and slotless masters are left out"
        );
        let failing = VIEW.replace("7001@17001 master", "7001@17001 master,fail?");
        assert_eq!(slot_owning_masters(&failing), None);
    }
}

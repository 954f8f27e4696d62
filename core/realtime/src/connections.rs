//! `ActiveConnections`: user id → that user's socket ids, the dashboard's `activeConnections` map.
//! Updates for one user happen under that user's shard lock, so concurrent connects and
//! disconnects of many tabs stay exact.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use roomcast_engine::auth::CompactString;

use roomcast_engine::clock::now_ms;

#[derive(Default)]
pub struct ActiveConnections {
    users: DashMap<CompactString, Vec<Arc<str>>>,
    /// When each user's last connection closed, for reconnection counting; pruned lazily.
    last_seen: DashMap<CompactString, u64>,
}

impl ActiveConnections {
    /// Adds a socket; returns true when the user had disconnected within `window` (a reconnect).
    pub fn add(&self, user: &str, socket_id: &str, window: Duration) -> bool {
        self.users
            .entry(CompactString::from(user))
            .or_default()
            .push(Arc::from(socket_id));
        match self.last_seen.remove(user) {
            Some((_, at)) => now_ms().saturating_sub(at) <= window.as_millis() as u64,
            None => false,
        }
    }

    /// Removes a socket; returns true when it was the user's last one.
    pub fn remove(&self, user: &str, socket_id: &str) -> bool {
        let mut last = false;
        if let Some(mut sockets) = self.users.get_mut(user) {
            sockets.retain(|s| s.as_ref() != socket_id);
            last = sockets.is_empty();
        }
        if last && self.users.remove_if(user, |_, s| s.is_empty()).is_some() {
            self.last_seen.insert(CompactString::from(user), now_ms());
            return true;
        }
        false
    }

    /// Forgets disconnect times older than `window`.
    pub fn prune(&self, window: Duration) {
        let now = now_ms();
        let window = window.as_millis() as u64;
        self.last_seen
            .retain(|_, at| now.saturating_sub(*at) <= window);
    }

    pub fn sockets_of(&self, user: &str) -> Vec<Arc<str>> {
        self.users.get(user).map(|s| s.clone()).unwrap_or_default()
    }

    pub fn unique_users(&self) -> usize {
        self.users.len()
    }

    pub fn total(&self) -> usize {
        self.users.iter().map(|e| e.value().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_tabs_and_reconnects() {
        let conns = ActiveConnections::default();
        let user: Arc<str> = Arc::from("u");
        assert!(!conns.add(&user, "a", Duration::from_secs(60)));
        conns.add(&user, "b", Duration::from_secs(60));
        assert_eq!((conns.unique_users(), conns.total()), (1, 2));
        assert!(!conns.remove("u", "a"));
        assert!(conns.remove("u", "b"));
        assert_eq!((conns.unique_users(), conns.total()), (0, 0));
        assert!(
            conns.add(&user, "c", Duration::from_secs(60)),
            "came back within the window"
        );
        assert!(!conns.remove("u", "missing"));
    }

    #[test]
    fn exact_under_concurrency() {
        let conns = Arc::new(ActiveConnections::default());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let conns = conns.clone();
                std::thread::spawn(move || {
                    let user: Arc<str> = Arc::from(format!("user{}", t % 2));
                    for i in 0..500 {
                        let id = format!("{t}-{i}");
                        conns.add(&user, &id, Duration::from_secs(1));
                        conns.remove(&user, &id);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!((conns.unique_users(), conns.total()), (0, 0));
    }
}

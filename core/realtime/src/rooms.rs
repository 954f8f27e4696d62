//! The preset's room names: one room per user, one per subscription.

/// Room prefixes that count as subscriptions (the `user:` room does not).
pub const SUBSCRIPTION_PREFIXES: [&str; 3] = ["portfolio:", "trades:", "watchlist:"];

/// The room every connection of `user_id` joins.
pub fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

pub fn is_subscription_room(room: &str) -> bool {
    SUBSCRIPTION_PREFIXES.iter().any(|p| room.starts_with(p))
}

/// A per-user subscription room: `portfolio:<user>` or `trades:<user>`.
pub fn subscription_room(kind: &str, user_id: &str) -> String {
    format!("{kind}:{user_id}")
}

/// The room of one watched symbol.
pub fn watchlist_room(symbol: &str) -> String {
    format!("watchlist:{symbol}")
}

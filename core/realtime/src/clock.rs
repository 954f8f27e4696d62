//! Timestamps in the dashboard's notices.

use std::time::SystemTime;

/// The current time as JavaScript's `Date.toISOString()` writes it.
pub fn iso_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

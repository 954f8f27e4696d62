//! Identity strings that many connections carry (roles) are kept once per process: every
//! connection of a `trader` points at the same `"trader"`. Bounded, so a
//! host that hands in many distinct values gets its own copies past the limit instead of a
//! table that grows with them.

use std::sync::Arc;

use parking_lot::Mutex;

/// How many distinct strings are shared; a handful of roles is the expected use.
const LIMIT: usize = 32;

static SHARED: Mutex<Vec<Arc<str>>> = Mutex::new(Vec::new());

/// The process's shared copy of `value` (one is made on first use, while there is room).
pub fn shared(value: &str) -> Arc<str> {
    let mut table = SHARED.lock();
    if let Some(found) = table.iter().find(|s| &***s == value) {
        return found.clone();
    }
    let made: Arc<str> = Arc::from(value);
    if table.len() < LIMIT {
        table.push(made.clone());
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_up_to_the_limit() {
        let a = shared("shared-strings-test-role");
        let b = shared("shared-strings-test-role");
        assert!(Arc::ptr_eq(&a, &b));
        let many: Vec<_> = (0..LIMIT * 2).map(|i| shared(&format!("r{i}"))).collect();
        let again = shared(&format!("r{}", LIMIT * 2 - 1));
        assert_eq!(again, many[LIMIT * 2 - 1]);
        assert!(SHARED.lock().len() <= LIMIT, "the table is bounded");
    }
}

//! A counting allocator (feature `count-heap`): live heap bytes and live blocks by size, read
//! through the `stats` ack, so the idle-memory benchmark can say where each client's bytes go.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

/// Blocks are counted by size in steps of `STEP` bytes; larger ones share the last slot.
const STEP: usize = 16;
const SLOTS: usize = 512;

pub struct CountingAlloc;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_BLOCKS: [AtomicI64; SLOTS] = [const { AtomicI64::new(0) }; SLOTS];

fn slot(size: usize) -> usize {
    (size.div_ceil(STEP)).min(SLOTS - 1)
}

fn count(size: usize, delta: i64) {
    LIVE_BYTES.fetch_add(delta * size as i64, Ordering::Relaxed);
    LIVE_BLOCKS[slot(size)].fetch_add(delta, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size(), 1);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size(), 1);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(layout.size(), -1);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(layout.size(), -1);
            count(new_size, 1);
        }
        p
    }
}

/// `{liveBytes, blocks: [[size up to, live blocks], …]}` (non-empty slots only).
pub fn report() -> serde_json::Value {
    let blocks: Vec<serde_json::Value> = LIVE_BLOCKS
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let n = n.load(Ordering::Relaxed);
            (n != 0).then(|| serde_json::json!([i * STEP, n]))
        })
        .collect();
    serde_json::json!({ "liveBytes": LIVE_BYTES.load(Ordering::Relaxed), "blocks": blocks })
}

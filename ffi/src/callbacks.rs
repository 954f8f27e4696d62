//! C callbacks with `void *userdata`: sent across engine threads, and the host's free function
//! is called exactly once, when the callback is replaced or the server is freed.

use std::ffi::c_void;

/// Frees the userdata of a callback (may be NULL).
pub type roomcast_free_fn = Option<extern "C" fn(userdata: *mut c_void)>;

pub(crate) struct UserData {
    ptr: *mut c_void,
    free: roomcast_free_fn,
}

// ok: the host promises, by registering a callback, that its userdata may be used from the
// engine's threads (documented on every registration function).
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: roomcast_free_fn) -> Self {
        Self { ptr, free }
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            free(self.ptr);
        }
    }
}

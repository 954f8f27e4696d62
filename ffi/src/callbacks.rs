//! C callbacks with `void *userdata`: sent across engine threads, and the host's free function
//! is called exactly once, when the callback is replaced or the server is freed.

use std::ffi::c_void;
use std::sync::Arc;

use crate::error::{fail, roomcast_result};

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

/// A callback being registered, with its userdata: an error code when the callback is NULL.
pub(crate) fn registered<F>(
    callback: Option<F>,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
) -> Result<(F, Arc<UserData>), roomcast_result> {
    match callback {
        Some(callback) => Ok((callback, Arc::new(UserData::new(userdata, free_userdata)))),
        None => Err(fail(roomcast_result::ErrNullPointer, "callback is NULL")),
    }
}

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

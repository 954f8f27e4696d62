//! C ABI over roomcast-core: `include/roomcast.h` is generated from this crate by cbindgen.
//! Naming: `roomcast_<type>_<verb>`; opaque handles with `_new`/`_free`; numeric result codes
//! with a per-thread message; `(ptr, len)` UTF-8 strings borrowed for the call; no panic crosses
//! the boundary (every body runs under `guard`).
#![allow(non_camel_case_types)]
// These functions are called from C, where `unsafe` means nothing: each one checks its pointers
// for NULL and documents what it expects of the rest in the generated header.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    clippy::missing_safety_doc,
    clippy::too_many_arguments
)]

mod allow_request;
mod auth;
mod callbacks;
mod cluster;
mod config;
mod emit;
mod error;
mod event_callback;
mod events;
mod namespaces;
mod pending;
mod server;
mod socket;
mod stats;
mod strings;

#[cfg(test)]
mod abi_tests;

pub use allow_request::*;
pub use auth::*;
pub use callbacks::roomcast_free_fn;
pub use config::*;
pub use emit::*;
pub use error::*;
pub use event_callback::*;
pub use events::*;
pub use server::*;
pub use socket::*;
pub use stats::*;

/// The library version.
///
/// Parameters: none.
/// Returns: a NUL-terminated string (not a roomcast_result).
/// Memory: static; never free it.
#[no_mangle]
pub extern "C" fn roomcast_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

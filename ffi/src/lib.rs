//! C ABI over roomcast-core. The API (handles, result codes, callbacks) lands with the C ABI issue;
//! this crate exists now so the workspace has its final shape.

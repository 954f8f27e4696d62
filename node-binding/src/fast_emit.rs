//! `emitToRoom` and `emitToUser` (the dashboard's), and `emitToNamespaceRoom` (the Server API's
//! `io.to(room).emit`), the calls a host makes thousands of times a second, as plain Node-API
//! callbacks instead of `#[napi]` functions.
//!
//! A `#[napi]` free function pays for napi-rs 3's borrow-tracking scopes and barriers before its
//! body runs, and each `String` argument for a length query, an allocation and a copy (the
//! figures are in BENCHMARKS.md). These callbacks read their arguments with one
//! Node-API call each into buffers reused across calls (the JS thread is the only caller), and
//! convert the payload only when someone would receive it. They do exactly what the `#[napi]`
//! versions did: same arguments, same return value, errors thrown as JS exceptions, and a
//! panic never crosses into Node.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::ptr;

use napi::sys;
use parking_lot::RwLock;
use roomcast::{Args, Error, ErrorKind, Namespace, RealtimeServer};

/// Reusable UTF-8 buffers for the room (or user id) and event arguments, and the payload.
struct Scratch {
    target: Vec<u8>,
    event: Vec<u8>,
    payload: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        target: Vec::with_capacity(256),
        event: Vec::with_capacity(256),
        payload: Vec::with_capacity(4096),
    });
}

/// Namespaces by handle, for `emitToNamespaceRoom` (a slot is emptied when its server closes).
static NAMESPACES: RwLock<Vec<Option<Namespace>>> = RwLock::new(Vec::new());

/// A handle for `emitToNamespaceRoom` on `ns`.
pub(crate) fn namespace_handle(ns: Namespace) -> u32 {
    let mut namespaces = NAMESPACES.write();
    namespaces.push(Some(ns));
    (namespaces.len() - 1) as u32
}

/// Empties the slots of `handles` (their server closed).
pub(crate) fn release_namespaces(handles: &[u32]) {
    let mut namespaces = NAMESPACES.write();
    for handle in handles {
        if let Some(slot) = namespaces.get_mut(*handle as usize) {
            *slot = None;
        }
    }
}

/// Defines `emitToRoom`, `emitToUser` and `emitToNamespaceRoom` on `target`.
pub(crate) fn install(env: sys::napi_env, target: sys::napi_value) -> napi::Result<()> {
    define(env, target, "emitToRoom", emit_to_room)?;
    define(env, target, "emitToUser", emit_to_user)?;
    define(env, target, "emitToNamespaceRoom", emit_to_namespace_room)
}

fn define(
    env: sys::napi_env,
    target: sys::napi_value,
    name: &str,
    callback: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> napi::Result<()> {
    let cname = CString::new(name).map_err(|e| napi::Error::from_reason(e.to_string()))?;
    let mut function = ptr::null_mut();
    // SAFETY: env and target come from a live napi call; cname outlives both calls.
    let status = unsafe {
        sys::napi_create_function(
            env,
            cname.as_ptr(),
            name.len() as isize,
            Some(callback),
            ptr::null_mut(),
            &mut function,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("napi_create_function failed"));
    }
    // SAFETY: as above; function was just created.
    let status = unsafe { sys::napi_set_named_property(env, target, cname.as_ptr(), function) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("napi_set_named_property failed"));
    }
    Ok(())
}

/// `emitToRoom(handle, room, event, json, validate)`
unsafe extern "C" fn emit_to_room(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || emit(env, info, |room| Cow::Borrowed(room)))
}

/// `emitToUser(handle, userId, event, json, validate)`
unsafe extern "C" fn emit_to_user(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || {
        emit(env, info, |user| {
            Cow::Owned(RealtimeServer::user_room(user))
        })
    })
}

/// `emitToNamespaceRoom(namespaceHandle, room, event, jsonArray)`: `jsonArray` is
/// `JSON.stringify` of the arguments (taken as is, see `Args::trusted_json_array`).
unsafe extern "C" fn emit_to_namespace_room(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || emit_in_namespace(env, info))
}

/// Runs one emit; any error becomes a thrown JS exception, and a panic is caught before it
/// could unwind into Node.
unsafe fn guarded(
    env: sys::napi_env,
    emit: impl FnOnce() -> Result<u32, Failure> + std::panic::UnwindSafe,
) -> sys::napi_value {
    let outcome = std::panic::catch_unwind(emit)
        .unwrap_or_else(|_| Err(("ERR_PANIC".to_owned(), "roomcast emit failed".to_owned())));
    match outcome {
        Ok(delivered) => {
            let mut value = ptr::null_mut();
            sys::napi_create_uint32(env, delivered, &mut value);
            value
        }
        Err((code, message)) => {
            let code = CString::new(code).unwrap_or_default();
            let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
            sys::napi_throw_error(env, code.as_ptr(), message.as_ptr());
            ptr::null_mut()
        }
    }
}

/// The exception's code and message.
type Failure = (String, String);

/// The room an emit goes to, from its second argument.
type RoomOf = fn(&str) -> Cow<'_, str>;

/// The call's `N` arguments (`shape` names them for the error) and its first, a handle.
unsafe fn handle_and_args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    shape: &str,
) -> Result<(u32, [sys::napi_value; N]), Failure> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let status = sys::napi_get_cb_info(
        env,
        info,
        &mut argc,
        argv.as_mut_ptr(),
        ptr::null_mut(),
        ptr::null_mut(),
    );
    if status != sys::Status::napi_ok || argc < N {
        return Err(invalid(&format!("expected {shape}")));
    }
    let mut handle = 0u32;
    if sys::napi_get_value_uint32(env, argv[0], &mut handle) != sys::Status::napi_ok {
        return Err(invalid("the handle must be a number"));
    }
    Ok((handle, argv))
}

unsafe fn emit(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    room_of: RoomOf,
) -> Result<u32, Failure> {
    let (handle, argv) =
        handle_and_args::<5>(env, info, "(handle, target, event, json, validate)")?;
    let mut validate = false;
    if sys::napi_get_value_bool(env, argv[4], &mut validate) != sys::Status::napi_ok {
        return Err(invalid("validate must be a boolean"));
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let Scratch {
            target,
            event,
            payload,
        } = &mut *scratch;
        let target =
            read_utf8(env, argv[1], target).ok_or_else(|| invalid("target must be a string"))?;
        let event =
            read_utf8(env, argv[2], event).ok_or_else(|| invalid("event must be a string"))?;
        crate::handles::with_server(handle, |server| {
            let room = room_of(target);
            if !validate && !server.would_deliver_to_room(&room) {
                return Ok(0);
            }
            let json = read_utf8(env, argv[3], payload)
                .ok_or_else(|| crate::error::invalid("json must be a string"))?;
            let args = crate::handles::payload_args(json.to_owned(), validate)?;
            Ok(server.emit_to_room(&room, event, &args) as u32)
        })
        .map_err(|e| (e.status, e.reason))
    })
}

unsafe fn emit_in_namespace(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Result<u32, Failure> {
    let (handle, argv) =
        handle_and_args::<4>(env, info, "(namespaceHandle, room, event, jsonArray)")?;
    let Some(ns) = NAMESPACES.read().get(handle as usize).cloned().flatten() else {
        let error = Error::new(ErrorKind::NotRunning, "unknown or closed namespace handle");
        return Err((error.kind().code().to_owned(), error.message().to_owned()));
    };
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let Scratch {
            target,
            event,
            payload,
        } = &mut *scratch;
        let room =
            read_utf8(env, argv[1], target).ok_or_else(|| invalid("room must be a string"))?;
        if !ns.would_deliver_to_room(room) {
            return Ok(0);
        }
        let event =
            read_utf8(env, argv[2], event).ok_or_else(|| invalid("event must be a string"))?;
        let json = read_utf8(env, argv[3], payload)
            .ok_or_else(|| invalid("jsonArray must be a string"))?;
        let args = Args::trusted_json_array(json.to_owned()).map_err(|e| {
            let error = Error::from(e);
            (error.kind().code().to_owned(), error.message().to_owned())
        })?;
        Ok(ns.emit_to_room(room, event, &args) as u32)
    })
}

fn invalid(message: &str) -> Failure {
    let error = crate::error::invalid(message);
    (error.status, error.reason)
}

/// Reads a JS string as UTF-8 into `buffer` (grown when too small) and borrows it; None when
/// the value is not a string.
unsafe fn read_utf8(
    env: sys::napi_env,
    value: sys::napi_value,
    buffer: &mut Vec<u8>,
) -> Option<&str> {
    buffer.clear();
    let mut written = 0usize;
    let capacity = buffer.capacity();
    let status = sys::napi_get_value_string_utf8(
        env,
        value,
        buffer.as_mut_ptr().cast::<c_char>(),
        capacity,
        &mut written,
    );
    if status != sys::Status::napi_ok {
        return None;
    }
    // The copy stops one byte short of the capacity (for the NUL): a string that filled it
    // may have been cut, so ask for its length and read it again whole.
    if written + 1 >= capacity {
        let mut length = 0usize;
        sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut length);
        buffer.reserve(length + 1);
        let status = sys::napi_get_value_string_utf8(
            env,
            value,
            buffer.as_mut_ptr().cast::<c_char>(),
            buffer.capacity(),
            &mut written,
        );
        if status != sys::Status::napi_ok {
            return None;
        }
    }
    // SAFETY: Node-API wrote `written` bytes (plus a NUL) into the buffer's capacity.
    buffer.set_len(written.min(buffer.capacity()));
    std::str::from_utf8(buffer).ok()
}

/// Defines the hot single emits on `target` :
/// `emitToRoom(handle, room, event, json, validate)` and
/// `emitToUser(handle, userId, event, json, validate)`, each returning the number of
/// connections that queued the payload. `validate` false is for `JSON.stringify` output only.
#[napi_derive::napi]
pub fn install_fast_emits(
    env: napi::Env,
    target: napi::bindgen_prelude::Object,
) -> napi::Result<()> {
    use napi::JsValue;
    install(env.raw(), target.raw())
}

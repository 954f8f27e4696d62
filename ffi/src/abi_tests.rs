//! Misuse of the C API gets error codes and messages, never a crash.

use crate::*;

fn last_error() -> String {
    let mut buf = [0u8; 256];
    let n = roomcast_last_error_message(buf.as_mut_ptr(), buf.len());
    String::from_utf8_lossy(&buf[..n.min(255)]).into_owned()
}

#[test]
fn bad_arguments_are_error_codes_with_messages() {
    let mut server: *mut roomcast_server = std::ptr::null_mut();
    assert_eq!(
        roomcast_server_new(std::ptr::null(), &mut server),
        roomcast_result::ErrNullPointer
    );
    assert!(last_error().contains("required"));

    let config = roomcast_config_new();
    let bad_utf8 = [0xffu8, 0xfe];
    assert_eq!(
        roomcast_config_set_path(config, bad_utf8.as_ptr(), bad_utf8.len()),
        roomcast_result::ErrInvalidUtf8
    );
    let host = "127.0.0.1";
    assert_eq!(
        roomcast_config_set_listen(config, host.as_ptr(), host.len(), 0),
        roomcast_result::Ok
    );
    assert_eq!(
        roomcast_config_set_ping(config, 0, 10),
        roomcast_result::ErrInvalidArgument
    );
    assert_eq!(
        roomcast_server_new(config, &mut server),
        roomcast_result::Ok
    );
    roomcast_config_free(config);

    let (room, event, bad_json) = ("watchlist:AAPL", "quote:update", "{oops");
    let mut count = 7u32;
    assert_eq!(
        roomcast_server_emit_to_room(
            server,
            room.as_ptr(),
            room.len(),
            event.as_ptr(),
            event.len(),
            bad_json.as_ptr(),
            bad_json.len(),
            &mut count
        ),
        roomcast_result::ErrInvalidJson
    );
    assert_eq!(
        roomcast_server_stop(server, 0),
        roomcast_result::ErrNotRunning
    );
    assert_eq!(
        roomcast_server_auth_reject(server, 42),
        roomcast_result::ErrAlreadyCompleted
    );
    assert_eq!(
        roomcast_server_ack(server, 42, "[]".as_ptr(), 2),
        roomcast_result::ErrAlreadyCompleted
    );

    let mut port = 0u16;
    assert_eq!(
        roomcast_server_start(server, &mut port),
        roomcast_result::Ok
    );
    assert!(port > 0);
    assert_eq!(
        roomcast_server_start(server, &mut port),
        roomcast_result::ErrAlreadyRunning
    );
    let json = "{\"price\":1}";
    assert_eq!(
        roomcast_server_emit_to_room(
            server,
            room.as_ptr(),
            room.len(),
            event.as_ptr(),
            event.len(),
            json.as_ptr(),
            json.len(),
            &mut count
        ),
        roomcast_result::Ok
    );
    assert_eq!(count, 0);

    let mut needed = 0usize;
    let mut small = [0u8; 8];
    assert_eq!(
        roomcast_server_metrics(server, small.as_mut_ptr(), small.len(), &mut needed),
        roomcast_result::ErrBufferTooSmall
    );
    let mut buf = vec![0u8; needed];
    assert_eq!(
        roomcast_server_metrics(server, buf.as_mut_ptr(), buf.len(), &mut needed),
        roomcast_result::Ok
    );
    assert!(String::from_utf8(buf)
        .unwrap() // ok: test code (this module is compiled only under cfg(test), see lib.rs)
        .contains("roomcast_connections 0"));

    let mut stats = roomcast_stats::default();
    assert_eq!(
        roomcast_server_stats(server, &mut stats),
        roomcast_result::Ok
    );
    assert!(stats.initialized);
    assert_eq!(
        roomcast_server_stats(server, std::ptr::null_mut()),
        roomcast_result::ErrNullPointer
    );

    assert_eq!(roomcast_server_stop(server, 0), roomcast_result::Ok);
    roomcast_server_free(server);
    roomcast_server_free(std::ptr::null_mut());
}

#[test]
fn handshake_hook_upgrades_and_socket_calls_refuse_misuse() {
    assert_eq!(
        roomcast_config_set_allow_upgrades(std::ptr::null_mut(), false),
        roomcast_result::ErrNullPointer
    );
    let config = roomcast_config_new();
    assert_eq!(
        roomcast_config_set_allow_upgrades(config, false),
        roomcast_result::Ok
    );
    let mut server: *mut roomcast_server = std::ptr::null_mut();
    assert_eq!(
        roomcast_server_new(config, &mut server),
        roomcast_result::Ok
    );
    roomcast_config_free(config);

    assert_eq!(
        roomcast_server_set_allow_request_callback(server, None, std::ptr::null_mut(), None),
        roomcast_result::ErrNullPointer
    );
    assert_eq!(
        roomcast_server_request_allow(server, 42),
        roomcast_result::ErrAlreadyCompleted,
        "an id that was never issued"
    );
    let message = "no";
    assert_eq!(
        roomcast_server_request_refuse(server, 42, message.as_ptr(), message.len()),
        roomcast_result::ErrAlreadyCompleted
    );

    let id = "no-such-socket";
    let mut len = 0usize;
    assert_eq!(
        roomcast_server_socket_handshake(
            server,
            id.as_ptr(),
            id.len(),
            std::ptr::null_mut(),
            0,
            &mut len
        ),
        roomcast_result::ErrNotFound
    );
    assert!(last_error().contains("no connected socket"));
    let data = "{\"a\":1}";
    assert_eq!(
        roomcast_server_set_socket_data(server, id.as_ptr(), id.len(), data.as_ptr(), data.len()),
        roomcast_result::ErrNotFound
    );
    assert_eq!(
        roomcast_server_socket_data(
            std::ptr::null(),
            id.as_ptr(),
            id.len(),
            std::ptr::null_mut(),
            0,
            &mut len
        ),
        roomcast_result::ErrNullPointer
    );
    roomcast_server_free(server);
}

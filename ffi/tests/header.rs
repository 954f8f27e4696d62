//! The committed `include/roomcast.h` must be exactly what cbindgen generates from this crate.
//! `ROOMCAST_BLESS=1 cargo test -p roomcast-ffi --test header` rewrites it.

use std::path::PathBuf;

#[test]
fn committed_header_matches_cbindgen() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = crate_dir.join("../include/roomcast.h");
    if std::env::var_os("ROOMCAST_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/roomcast.h is stale: run ROOMCAST_BLESS=1 cargo test -p roomcast-ffi --test header"
    );
}

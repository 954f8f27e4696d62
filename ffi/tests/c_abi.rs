//! Compiles ffi/tests/c/abi.c against the committed header and the static library, and runs it:
//! the ABI as a C compiler and a C program see it. Cargo does not rebuild a staticlib for an
//! integration test, so the library comes from `cargo build` (tests/run.sh builds first); a
//! library older than the sources is reported instead of tested.

use std::path::{Path, PathBuf};
use std::process::Command;

/// target/<profile>/, from this test binary's path (target/<profile>/deps/c_abi-…).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// The newest modification time under `dir` (Rust sources only).
fn newest_source(dir: &Path) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_source(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(newest)
        } else {
            continue;
        };
        newest = newest.max(time);
    }
    newest
}

#[test]
fn c_program_exercises_the_abi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let library = profile_dir().join("libroomcast.a");
    let built_at = std::fs::metadata(&library)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} not built: run `cargo build -p roomcast-ffi`",
                library.display()
            )
        });
    for sources in [
        "ffi/src",
        "core/src",
        "core/engine/src",
        "core/realtime/src",
    ] {
        assert!(
            newest_source(&root.join(sources)) <= built_at,
            "{} is older than {sources}: run `cargo build -p roomcast-ffi` first",
            library.display()
        );
    }
    let program = profile_dir().join("c-abi-test");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let built = Command::new(&compiler)
        .args([
            "-std=c11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-I",
        ])
        .arg(root.join("include"))
        .arg(root.join("ffi/tests/c/abi.c"))
        .arg(&library)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&program)
        .status()
        .expect("a C compiler (cc)");
    assert!(built.success(), "compiling abi.c failed");
    let run = Command::new(&program).output().expect("run c-abi-test");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "c-abi-test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

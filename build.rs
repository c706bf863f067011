//! Rebuild when migrations or templates change (both are embedded at compile time), and
//! embed every file under `static/` so the binary serves the admin from any directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=static");
    embed_static();
}

/// Writes `$OUT_DIR/static_files.rs`: a sorted table of `(path, bytes, etag)` for every
/// file under `static/`, the bytes pulled in with `include_bytes!`.
fn embed_static() {
    let root =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("static");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(path).expect("read static file");
        let rel = path
            .strip_prefix(&root)
            .expect("under static/")
            .to_str()
            .expect("static file names are UTF-8")
            .replace('\\', "/");
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?}), \"\\\"{:016x}\\\"\"),",
            path.display().to_string(),
            fnv1a(&bytes)
        )
        .expect("write to string");
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("static_files.rs");
    std::fs::write(dest, out).expect("write static_files.rs");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read static/").path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// FNV-1a, 64 bits: a content tag for the ETag (not a security measure).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

//! Standard output for a command's result, which must reach the caller or fail.
//!
//! `println!` panics on a full disk (`> /dev/full`), and a closed standard output
//! (`>&-`) swallows the text: before `main`, Rust's runtime opens `/dev/null`
//! (read-write) on any of the descriptors 0 to 2 that is closed, so that no file or
//! socket can take their place. A command whose result is a secret or a new UUID must
//! instead fail with exit 1 and leave nothing behind: callers print inside the
//! transaction that creates the result, and commit only after printing succeeded.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::OnceLock;

/// Whether standard output was closed when the process started.
static CLOSED_AT_START: OnceLock<bool> = OnceLock::new();

/// Records whether standard output was closed at start; call first thing in `main`.
///
/// A closed descriptor shows as the runtime's `/dev/null` opened read-write. A shell's
/// `> /dev/null` opens it write-only, so discarding a result on purpose still works;
/// a parent that passes a read-write `/dev/null` (Python's `subprocess.DEVNULL`) is
/// taken as a closed output too, which fails safe.
pub fn guard_standard_streams() {
    CLOSED_AT_START.get_or_init(|| {
        let is_null = std::fs::read_link("/proc/self/fd/1")
            .is_ok_and(|target| target == std::path::Path::new("/dev/null"));
        let read_write = std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .is_some_and(|flags| flags & 0o3 == 0o2)
        });
        is_null && read_write
    });
}

/// Writes `line` and a newline to standard output and makes sure it got there: an
/// error when standard output is closed, full or otherwise failing.
pub fn print_result(line: &str) -> anyhow::Result<()> {
    if CLOSED_AT_START.get().copied().unwrap_or(false) {
        anyhow::bail!("cannot print the result: standard output is closed");
    }
    let mut stdout = std::io::stdout().lock();
    // Written through a duplicate of the descriptor: `Stdout` ignores some errors.
    let written = stdout.flush().and_then(|()| {
        let mut out = std::fs::File::from(stdout.as_fd().try_clone_to_owned()?);
        out.write_all(format!("{line}\n").as_bytes())
    });
    written.map_err(|e| anyhow::anyhow!("cannot print the result to standard output: {e}"))
}

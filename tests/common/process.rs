//! The real binary as a server process: started with `serve --bind 127.0.0.1:0`, its
//! standard error collected line by line, killed on drop.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `sodarcache serve`.
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Runs `exe serve --bind 127.0.0.1:0 EXTRA...` in `dir` with `env` (and no
    /// `SODARCACHE_STATIC_DIR`), and waits (up to a minute) for its address.
    pub fn start(exe: &Path, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(extra)
            .current_dir(dir)
            .env_remove("SODARCACHE_STATIC_DIR")
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Another test thread copying a binary while this one forks can leave a writable
        // descriptor to the executable open in the child for a moment (ETXTBSY): retry.
        let mut attempts = 0;
        let mut child = loop {
            match cmd.spawn() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => break other.expect("start sodarcache serve"),
            }
        };
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr");
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut server = ServerProcess {
            addr: String::new(),
            child,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(addr) = server
                .lines()
                .iter()
                .find_map(|l| l.split("Listening on ").nth(1).map(str::to_owned))
            {
                server.addr = addr
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || ":/.".contains(*c))
                    .collect();
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "server exited with {status}:\n{}",
                    server.lines().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "server did not start:\n{}",
                server.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id (the same after its one re-execution at start).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    /// Standard error so far.
    pub fn lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Polls standard error (up to 30 s) for a line containing `needle`.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?}:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

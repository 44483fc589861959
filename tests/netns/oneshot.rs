//! A command that is expected to exit by itself (e.g. `floatip sniff -n N`), run in a
//! namespace with its stdout and stderr kept apart on disk, and killed if it outlives
//! its deadline or the test.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct OneShot {
    name: String,
    argv: Vec<String>,
    stdout: PathBuf,
    stderr: PathBuf,
    child: RefCell<Child>,
}

impl OneShot {
    pub(super) fn spawn(ns: &str, name: &str, dir: &Path, argv: &[&str]) -> OneShot {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let create = |path: &Path| {
            File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()))
        };
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(create(&stdout))
            .stderr(create(&stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?} in {ns}: {e}"));
        OneShot {
            name: name.to_string(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            stdout,
            stderr,
            child: RefCell::new(child),
        }
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Exit status if it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.child.borrow_mut().try_wait().ok().flatten()
    }

    /// Waits up to `deadline` for it to exit by itself; on timeout it is killed and Err
    /// says so, with what it printed.
    pub fn wait(&self, deadline: Duration) -> Result<ExitStatus, String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if start.elapsed() >= deadline {
                self.kill();
                return Err(format!(
                    "{} ({:?}) did not exit within {deadline:?} (killed it); stdout:\n{}\nstderr:\n{}",
                    self.name,
                    self.argv,
                    self.stdout(),
                    self.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL, then reaps it.
    pub fn kill(&self) {
        let mut child = self.child.borrow_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for OneShot {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.kill();
        }
    }
}

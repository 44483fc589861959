//! A real `floatip run` process inside a namespace, with its log kept on disk.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Lines of log printed per daemon when a test fails.
const TAIL_LINES: usize = 60;

pub struct Inner {
    pub name: String,
    ns: String,
    log: PathBuf,
    config: PathBuf,
    child: RefCell<Child>,
    /// The test stopped (or expects to stop) it: exiting is not a failure.
    expected_exit: Cell<bool>,
}

impl Inner {
    fn try_wait(&self) -> Option<ExitStatus> {
        self.child.borrow_mut().try_wait().ok().flatten()
    }

    /// Err when it exited although nobody stopped it.
    pub fn check_alive(&self) -> Result<(), String> {
        if self.expected_exit.get() {
            return Ok(());
        }
        match self.try_wait() {
            None => Ok(()),
            Some(status) => {
                self.expected_exit.set(true); // say it once
                Err(format!(
                    "daemon {} in {} exited unexpectedly ({status}); log {}:\n{}",
                    self.name,
                    self.ns,
                    self.log.display(),
                    tail(&self.log, TAIL_LINES)
                ))
            }
        }
    }
}

/// `floatip run -c FILE` in a namespace. Killed on drop; when the test is panicking,
/// the tail of its log is printed first.
pub struct Daemon {
    inner: Rc<Inner>,
}

impl Daemon {
    pub(super) fn spawn(ns: &str, name: &str, dir: &Path, config: &str) -> Daemon {
        let config_path = dir.join(format!("{name}.yaml"));
        std::fs::write(&config_path, config)
            .unwrap_or_else(|e| panic!("write {}: {e}", config_path.display()));
        // FLOATIP_TEST_BIN: another build (e.g. the release one, for a measurement).
        let bin = std::env::var("FLOATIP_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_floatip").to_string());
        let bin = bin.as_str();
        let config_arg = config_path.to_str().expect("utf-8 path").to_string();
        Daemon::spawn_command(ns, name, dir, &[bin, "run", "-c", &config_arg], config_path)
    }

    /// Runs any program in the namespace the same way (log, signals, cleanup).
    pub(super) fn spawn_command(
        ns: &str,
        name: &str,
        dir: &Path,
        argv: &[&str],
        config_path: PathBuf,
    ) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("dup log fd");
        // `ip netns exec` execs the program in place, so the child's pid is the
        // program's and signals reach it directly.
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            // Each daemon its own control socket (they share /run); `floatip status`
            // run by the test finds it the same way (`Daemon::control_socket`).
            .env("FLOATIP_CONTROL_SOCKET", dir.join(format!("{name}.ctl")))
            .env("FLOATIP_LOG", log_filter())
            .env("RUST_LOG", log_filter())
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?} in {ns}: {e}"));
        Daemon {
            inner: Rc::new(Inner {
                name: name.to_string(),
                ns: ns.to_string(),
                log,
                config: config_path,
                child: RefCell::new(child),
                expected_exit: Cell::new(false),
            }),
        }
    }

    pub(super) fn watch(&self) -> Weak<Inner> {
        Rc::downgrade(&self.inner)
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.inner.child.borrow().id() as i32)
    }

    /// Its control socket (`floatip status --socket`).
    pub fn control_socket(&self) -> PathBuf {
        self.inner
            .log
            .with_file_name(format!("{}.ctl", self.inner.name))
    }

    pub fn log_path(&self) -> &Path {
        &self.inner.log
    }

    pub fn config_path(&self) -> &Path {
        &self.inner.config
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.inner.log).unwrap_or_default()
    }

    /// The log from byte `offset` on (an offset taken from `log().len()` earlier); empty
    /// if the log is not longer than that.
    pub fn log_since(&self, offset: usize) -> String {
        self.log().get(offset..).unwrap_or_default().to_string()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.inner.log, lines)
    }

    /// Whether the log contains `needle` (case-insensitive).
    pub fn log_contains(&self, needle: &str) -> bool {
        self.log().to_lowercase().contains(&needle.to_lowercase())
    }

    /// Exit status if it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.inner.try_wait()
    }

    /// Err (with the log tail) if it has exited.
    pub fn check_running(&self) -> Result<(), String> {
        match self.exited() {
            None => Ok(()),
            Some(status) => Err(format!(
                "daemon {} exited ({status}); log:\n{}",
                self.name(),
                self.log_tail(TAIL_LINES)
            )),
        }
    }

    /// SIGKILL, then reaps it.
    pub fn kill(&self) {
        self.inner.expected_exit.set(true);
        let _ = kill(self.pid(), Signal::SIGKILL);
        let _ = self.inner.child.borrow_mut().wait();
    }

    /// SIGTERM, then waits up to `deadline` for it to exit. On timeout it is killed
    /// and Err says so.
    pub fn term(&self, deadline: Duration) -> Result<ExitStatus, String> {
        self.inner.expected_exit.set(true);
        self.signal(Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if start.elapsed() >= deadline {
                self.kill();
                return Err(format!(
                    "daemon {} did not exit within {deadline:?} of SIGTERM (killed it)",
                    self.name()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGHUP (reload).
    pub fn hup(&self) {
        self.signal(Signal::SIGHUP);
    }

    /// Replaces its config file (atomically, by rename) and sends SIGHUP.
    pub fn reload(&self, config: &str) {
        let tmp = self.inner.config.with_extension("yaml.new");
        std::fs::write(&tmp, config).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
        std::fs::rename(&tmp, &self.inner.config)
            .unwrap_or_else(|e| panic!("rename to {}: {e}", self.inner.config.display()));
        self.hup();
    }

    pub fn signal(&self, signal: Signal) {
        if let Err(e) = kill(self.pid(), signal) {
            panic!("{signal} to daemon {}: {e}", self.name());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- daemon {} in {} ({}), last {TAIL_LINES} lines of {} -----\n{}\n----- end {} -----",
                self.inner.name,
                self.inner.ns,
                match self.exited() {
                    Some(s) => format!("exited: {s}"),
                    None => "running".to_string(),
                },
                self.inner.log.display(),
                tail(&self.inner.log, TAIL_LINES),
                self.inner.name,
            );
        }
        self.inner.expected_exit.set(true);
        if self.exited().is_none() {
            let _ = kill(self.pid(), Signal::SIGKILL);
            let _ = self.inner.child.borrow_mut().wait();
        }
    }
}

/// The daemons' log filter: `FLOATIP_TEST_LOG` if set, else `debug`.
fn log_filter() -> String {
    std::env::var("FLOATIP_TEST_LOG").unwrap_or_else(|_| "debug".to_string())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

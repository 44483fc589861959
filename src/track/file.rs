//! The `file` checker: an integer read from a file, watched with inotify, which the policy
//! multiplies by the check's weight. Operators drain a node before maintenance with
//! `echo 1 > /run/floatip/drain`.
//!
//! Owns one task per check, its inotify descriptor, and the last value it reported. It
//! reads the file at start and whenever an event names it, and reports only when the
//! result changes. A missing or empty file reads as 0; an integer (optional sign,
//! surrounding whitespace) as itself; anything else, a file over `MAX_FILE_BYTES` or
//! something that is not a regular file is a failure. It must not decide anything about
//! VRRP state, nor ever block: the file is opened non-blocking, so a FIFO put at the
//! path cannot hang the daemon.
//!
//! The parent directory is watched, not the file, so that a file created later, replaced
//! by `mv tmp drain` or removed is seen. If the directory does not exist (yet), the value
//! is 0 and the watch is retried every second until it does.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::Interest;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info};

use super::{CheckIndex, Observation, Report, describe};
use crate::sys::reactor::{self, Registered};

/// A file larger than this is not a number someone wrote for us.
const MAX_FILE_BYTES: u64 = 64;
/// How often to retry watching a directory that does not exist.
const RETRY_WATCH: Duration = Duration::from_secs(1);
/// After a write that is not the writer's last (no close yet), wait this long for more
/// before reading, so `echo 10 > f` (truncate, write, close) is not read half-way.
const SETTLE: Duration = Duration::from_millis(20);

/// Watch `path`: report its value at start and on every change. Ends when `reports`'
/// receiver is dropped; aborting the task closes the inotify descriptor.
pub fn spawn(check: CheckIndex, path: PathBuf, reports: UnboundedSender<Report>) -> JoinHandle<()> {
    tokio::spawn(run(check, path, reports))
}

/// An inotify instance registered with the reactor.
type Watch = Registered<Inotify>;

/// What happened to the watched directory, for the file named `name`.
enum Seen {
    /// Nothing about our file.
    Nothing,
    /// Our file was written, but the writer may not be done.
    Modified,
    /// Our file was created, closed after writing, moved or removed (or events were
    /// lost): read it now.
    Changed,
    /// The directory itself went away: watch again when it is back.
    DirectoryGone,
}

async fn run(check: CheckIndex, path: PathBuf, reports: UnboundedSender<Report>) {
    let Some(name) = path.file_name().map(OsString::from) else {
        let _ = reports.send(Report {
            check,
            observation: Observation::Fail(format!("{} names no file", path.display())),
        });
        reports.closed().await;
        return;
    };
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut last: Option<Observation> = None;
    let mut report = |observation: Observation| -> bool {
        if last.as_ref() == Some(&observation) {
            return true;
        }
        debug!(check, path = %path.display(), ?observation, "file check");
        last = Some(observation.clone());
        reports.send(Report { check, observation }).is_ok()
    };
    let mut logged_missing = false;
    loop {
        // Watch first, then read: a change between the two is then seen as an event.
        let watch = match watch(&directory) {
            Ok(watch) => watch,
            Err(error) => {
                if !logged_missing {
                    info!(
                        check,
                        directory = %directory.display(),
                        %error,
                        "cannot watch the directory (yet); reading the file every second until it can be watched (a missing file reads as 0)"
                    );
                    logged_missing = true;
                }
                // Not a blind 0: the watch can fail with the file there (inotify limits
                // used up), and a drain file must still count.
                if !report(read_value(&path)) {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_WATCH) => continue,
                    _ = reports.closed() => return,
                }
            }
        };
        if logged_missing {
            info!(check, directory = %directory.display(), "watching the directory now");
            logged_missing = false;
        }
        if !report(read_value(&path)) {
            return;
        }
        let mut settle_until: Option<Instant> = None;
        loop {
            let settle = async {
                match settle_until {
                    Some(at) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let seen = tokio::select! {
                seen = next_events(&watch, &name) => seen,
                _ = settle => Seen::Changed,
                _ = reports.closed() => return,
            };
            match seen {
                Seen::Nothing => {}
                Seen::Modified => {
                    settle_until.get_or_insert_with(|| Instant::now() + SETTLE);
                }
                Seen::Changed => {
                    settle_until = None;
                    if !report(read_value(&path)) {
                        return;
                    }
                }
                Seen::DirectoryGone => {
                    if !report(read_value(&path)) {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

fn watch(directory: &Path) -> io::Result<Watch> {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(
        directory,
        AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::IN_ONLYDIR,
    )?;
    reactor::register(inotify, Interest::READABLE)
}

/// Wait for events and sum up what they mean for the file `name`.
async fn next_events(watch: &Watch, name: &OsString) -> Seen {
    let mut guard = match watch.readable().await {
        Ok(guard) => guard,
        Err(_) => return Seen::DirectoryGone,
    };
    let mut seen = Seen::Nothing;
    loop {
        let events = match guard.try_io(|w| w.get_ref().read_events().map_err(io::Error::from)) {
            Ok(Ok(events)) => events,
            Ok(Err(error)) => {
                debug!(%error, "reading inotify events");
                return Seen::DirectoryGone;
            }
            // Drained: readiness cleared, wait for the next batch.
            Err(_would_block) => return seen,
        };
        for event in events {
            let mask = event.mask;
            if mask.intersects(
                AddWatchFlags::IN_DELETE_SELF
                    | AddWatchFlags::IN_MOVE_SELF
                    | AddWatchFlags::IN_IGNORED
                    | AddWatchFlags::IN_UNMOUNT,
            ) {
                return Seen::DirectoryGone;
            }
            if mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                seen = Seen::Changed;
            } else if event.name.as_ref() == Some(name) {
                if mask == AddWatchFlags::IN_MODIFY {
                    if matches!(seen, Seen::Nothing) {
                        seen = Seen::Modified;
                    }
                } else {
                    seen = Seen::Changed;
                }
            }
        }
    }
}

/// The file's value: missing or blank is 0.
fn read_value(path: &Path) -> Observation {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Observation::Value(0),
        Err(error) => return Observation::Fail(format!("cannot read: {}", describe(&error))),
    };
    match file.metadata() {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Observation::Fail("not a regular file".into()),
        Err(error) => return Observation::Fail(format!("cannot read: {}", describe(&error))),
    }
    let mut bytes = Vec::new();
    if let Err(error) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        return Observation::Fail(format!("cannot read: {}", describe(&error)));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Observation::Fail(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    parse_value(&bytes)
}

fn parse_value(bytes: &[u8]) -> Observation {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return Observation::Value(0);
    }
    match text.parse::<i64>() {
        Ok(value) => Observation::Value(value),
        Err(_) => Observation::Fail(format!("not an integer: {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::security::test_support::TempDir;
    use crate::track::test_support::next_report;
    use std::fs;
    use tokio::sync::mpsc::{self, UnboundedReceiver};

    async fn next(rx: &mut UnboundedReceiver<Report>) -> Observation {
        next_report(rx, Duration::from_secs(3)).await.observation
    }

    /// No report for a while (used after a change that must not be reported).
    async fn quiet(rx: &mut UnboundedReceiver<Report>) {
        if let Ok(report) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            panic!("unexpected report {report:?}");
        }
    }

    fn sh(script: &str) {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    }

    #[tokio::test]
    async fn create_write_echo_rename_and_delete_are_all_seen() {
        let dir = TempDir::new("file");
        let path = dir.path().join("drain");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(4, path.clone(), tx);
        let first = next_report(&mut rx, Duration::from_secs(3)).await;
        assert_eq!(
            first,
            Report {
                check: 4,
                observation: Observation::Value(0)
            }
        );

        // Creating an empty file changes nothing: still 0, not reported again.
        fs::write(&path, "").unwrap();
        quiet(&mut rx).await;

        sh(&format!("echo 1 > {}", path.display()));
        assert_eq!(next(&mut rx).await, Observation::Value(1));

        fs::write(&path, "  -25\n").unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(-25));

        // Rewriting the same value is not a change.
        fs::write(&path, "-25").unwrap();
        quiet(&mut rx).await;

        let tmp = dir.path().join("drain.tmp");
        fs::write(&tmp, "+7\n").unwrap();
        sh(&format!("mv {} {}", tmp.display(), path.display()));
        assert_eq!(next(&mut rx).await, Observation::Value(7));

        fs::remove_file(&path).unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(0));

        // Created by a rename from elsewhere in the directory.
        fs::write(&tmp, "3").unwrap();
        fs::rename(&tmp, &path).unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(3));

        // Moved away.
        fs::rename(&path, &tmp).unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        task.abort();
    }

    #[tokio::test]
    async fn a_writer_that_keeps_the_file_open_is_seen_by_modify() {
        let dir = TempDir::new("file");
        let path = dir.path().join("weight");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(0, path.clone(), tx);
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        let mut file = fs::File::create(&path).unwrap();
        use std::io::Write;
        file.write_all(b"12\n").unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(12));
        drop(file);
        quiet(&mut rx).await;
        task.abort();
    }

    #[tokio::test]
    async fn bad_contents_fail_and_recover() {
        let dir = TempDir::new("file");
        let path = dir.path().join("drain");
        fs::write(&path, "yes\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(0, path.clone(), tx);
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("not an integer: \"yes\"".into())
        );
        fs::write(&path, "1 2").unwrap();
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("not an integer: \"1 2\"".into())
        );
        fs::write(&path, "99999999999999999999").unwrap();
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("not an integer: \"99999999999999999999\"".into())
        );
        fs::write(&path, format!("{}1", " ".repeat(64))).unwrap();
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("larger than 64 bytes".into())
        );
        fs::write(&path, "\n\t \n").unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        task.abort();
    }

    #[tokio::test]
    async fn a_fifo_or_directory_at_the_path_fails_without_blocking() {
        let dir = TempDir::new("file");
        let path = dir.path().join("drain");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(0, path.clone(), tx);
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("not a regular file".into())
        );
        fs::remove_file(&path).unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        fs::create_dir(&path).unwrap();
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("not a regular file".into())
        );
        task.abort();
    }

    #[tokio::test]
    async fn a_missing_directory_reads_as_zero_until_it_exists() {
        let dir = TempDir::new("file");
        let sub = dir.path().join("run-floatip");
        let path = sub.join("drain");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(0, path.clone(), tx);
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        fs::create_dir(&sub).unwrap();
        fs::write(&path, "5").unwrap();
        // Picked up by the retry (within a second), then by the watch.
        assert_eq!(next(&mut rx).await, Observation::Value(5));
        fs::write(&path, "6").unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(6));

        // The directory removed and created again: back to 0, then watched again.
        fs::remove_dir_all(&sub).unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        fs::create_dir(&sub).unwrap();
        fs::write(&path, "8").unwrap();
        assert_eq!(next(&mut rx).await, Observation::Value(8));
        task.abort();
    }

    #[tokio::test]
    async fn ends_when_the_receiver_is_dropped() {
        let dir = TempDir::new("file");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(0, dir.path().join("drain"), tx);
        assert_eq!(next(&mut rx).await, Observation::Value(0));
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the checker must end when nobody listens")
            .unwrap();
    }

    #[test]
    fn values() {
        assert_eq!(parse_value(b""), Observation::Value(0));
        assert_eq!(parse_value(b" 0 \n"), Observation::Value(0));
        assert_eq!(parse_value(b"-3"), Observation::Value(-3));
        assert_eq!(parse_value(b"+3\r\n"), Observation::Value(3));
        assert_eq!(
            parse_value(b"1.5"),
            Observation::Fail("not an integer: \"1.5\"".into())
        );
        assert_eq!(
            parse_value(b"\xff"),
            Observation::Fail("not an integer: \"\u{fffd}\"".into())
        );
    }
}

//! Health of what the virtual addresses front (HAProxy): checks and their policy.
//!
//! `policy` is pure: rise/fall counters, weights to a priority adjustment, Fault gating.
//! Everything else here is an edge: a checker watches one thing (a script, a process, a
//! TCP port or HTTP URL, an interface, a file) and sends `Report`s to the daemon, which
//! feeds them to the policy and the policy's verdicts to the state machine. Checkers
//! never decide anything about VRRP state, and never touch another checker's state.

pub mod exec;
pub mod file;
pub mod policy;
pub mod probe;
pub mod process;
pub mod script;

use std::io;

/// Who commands run as and the rules for which files they may run live in the leaf
/// `common::security` (config validation applies them too); re-exported for callers
/// that take them with the checkers.
pub use crate::common::security::{self, RunAs};

/// Index of a check in `Config::checks` (and in the daemon's table of checkers).
pub type CheckIndex = usize;

/// One observation of one check, as a checker sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub check: CheckIndex,
    pub observation: Observation,
}

/// What a checker saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The check passed (exit 0, connected, expected status, enough processes, link up).
    Pass,
    /// It failed; the text says why, for the log (`exit status 2`, `timed out after
    /// 1s`, `connection refused`, `0 of 1 haproxy running`).
    Fail(String),
    /// A `file` check's integer (a missing or empty file reads as 0).
    Value(i64),
}

/// A short lower-case reason for the log: `connection refused`, not
/// `Connection refused (os error 111)`. Connection errors whose system text is long
/// or obscure (`Software caused connection abort`) get a plain one.
fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        io::ErrorKind::BrokenPipe => "connection closed while sending".into(),
        io::ErrorKind::HostUnreachable => "host unreachable".into(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
        io::ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => {
            let text = error.to_string();
            let text = match text.find(" (os error") {
                Some(at) => &text[..at],
                None => &text,
            };
            text.to_lowercase()
        }
    }
}

/// Test helpers of the checkers.
#[cfg(test)]
pub(crate) mod test_support {
    use std::time::Duration;

    use tokio::sync::mpsc::UnboundedReceiver;

    use super::Report;

    /// A checker's next report; panics if none comes `within`, or the checker ended.
    pub async fn next_report(rx: &mut UnboundedReceiver<Report>, within: Duration) -> Report {
        match tokio::time::timeout(within, rx.recv()).await {
            Ok(Some(report)) => report,
            Ok(None) => panic!("checker ended"),
            Err(_) => panic!("no report within {within:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_is_short_and_lower_case() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(describe(&os(libc::ECONNREFUSED)), "connection refused");
        assert_eq!(describe(&os(libc::ECONNRESET)), "connection reset");
        assert_eq!(
            describe(&os(libc::EPIPE)),
            "connection closed while sending"
        );
        assert_eq!(describe(&os(libc::ENOENT)), "no such file or directory");
        assert_eq!(
            describe(&io::Error::from(io::ErrorKind::ConnectionRefused)),
            "connection refused"
        );
        assert_eq!(describe(&io::Error::other("Custom Text")), "custom text");
    }
}

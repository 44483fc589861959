//! The control protocol: requests and answers on the control socket, as JSON lines.
//!
//! Owns the wire format (`PROTOCOL_VERSION`, `Request`, `Answer`, the status report in
//! `report`) and its limits, shared by the daemon's server (`daemon::control`) and the
//! command-line client (`client`). Must not hold daemon state or do I/O beyond the
//! client's one connection.
//!
//! A request is one line: `{"version":1,"command":"status","router":"web"}` (`router`
//! optional) or `{"version":1,"command":"reload"}`. Every answer is one line with
//! `version` and `ok`; `ok: false` answers carry `error: {code, message}`.

pub mod client;
pub mod report;

use serde::{Deserialize, Serialize};

pub use report::StatusReport;

/// The protocol version this build speaks (requests and answers carry it).
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest request line accepted, newline included; a longer one is refused and
/// the connection closed.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A request, as parsed from one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The status of every router, or of one.
    Status { router: Option<String> },
    /// Load the configuration file again (as SIGHUP does) and say how it went.
    Reload,
}

/// Why a request line was refused (the `code` of the error answer says which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub code: &'static str,
    pub message: String,
}

impl RequestError {
    fn new(code: &'static str, message: impl Into<String>) -> RequestError {
        RequestError {
            code,
            message: message.into(),
        }
    }
}

/// The commands a later version may add (`handover`, `maintenance`) are refused by
/// name, so that an operator reads "not supported yet" rather than "unknown".
const NOT_YET: &[&str] = &["handover", "maintenance"];

/// The raw shape of a request: unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    version: Option<serde_json::Value>,
    command: Option<serde_json::Value>,
    #[serde(default)]
    router: Option<serde_json::Value>,
}

/// Parse one request line (without its newline).
pub fn parse_request(line: &[u8]) -> Result<Request, RequestError> {
    if line.len() >= MAX_REQUEST_BYTES {
        return Err(RequestError::new(
            "too_large",
            format!("request longer than {MAX_REQUEST_BYTES} bytes"),
        ));
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| RequestError::new("malformed", "request is not UTF-8"))?;
    let raw: RawRequest = serde_json::from_str(text.trim()).map_err(|e| {
        RequestError::new(
            "malformed",
            format!("request is not a JSON object of version, command and router: {e}"),
        )
    })?;
    match raw.version {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        Some(other) => {
            return Err(RequestError::new(
                "unsupported_version",
                format!(
                    "protocol version {other} is not supported; this daemon speaks {PROTOCOL_VERSION}"
                ),
            ));
        }
        None => {
            return Err(RequestError::new(
                "malformed",
                format!("request has no \"version\" (use {PROTOCOL_VERSION})"),
            ));
        }
    }
    let command = match raw.command {
        Some(serde_json::Value::String(command)) => command,
        Some(_) => {
            return Err(RequestError::new(
                "malformed",
                "\"command\" must be a string",
            ));
        }
        None => return Err(RequestError::new("malformed", "request has no \"command\"")),
    };
    let router = match raw.router {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) => Some(name),
        Some(_) => {
            return Err(RequestError::new(
                "malformed",
                "\"router\" must be a string",
            ));
        }
    };
    match command.as_str() {
        "status" => Ok(Request::Status { router }),
        "reload" if router.is_none() => Ok(Request::Reload),
        "reload" => Err(RequestError::new(
            "malformed",
            "reload takes no router: it reloads the whole file",
        )),
        name if NOT_YET.contains(&name) => Err(RequestError::new(
            "not_supported",
            format!("`{name}` is not supported by this version of floatip yet"),
        )),
        other => Err(RequestError::new(
            "unknown_command",
            format!(
                "unknown command `{}`; known: status, reload",
                other.chars().take(64).collect::<String>()
            ),
        )),
    }
}

impl Request {
    /// The request as one line, without the newline.
    pub fn to_line(&self) -> String {
        let value = match self {
            Request::Status { router: None } => {
                serde_json::json!({"version": PROTOCOL_VERSION, "command": "status"})
            }
            Request::Status {
                router: Some(router),
            } => serde_json::json!({
                "version": PROTOCOL_VERSION, "command": "status", "router": router
            }),
            Request::Reload => {
                serde_json::json!({"version": PROTOCOL_VERSION, "command": "reload"})
            }
        };
        value.to_string()
    }
}

/// An error answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// The outcome of a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadOutcome {
    /// The new file was taken.
    pub applied: bool,
    /// The configuration that was running before the request still runs (true exactly
    /// when the file was rejected).
    pub kept_running: bool,
    /// Why it was rejected: the configuration errors (each with file:line:column), or
    /// the reason it could not be used. With `applied`: the routers that could not be
    /// started (a router they were to replace keeps running as it was).
    pub error: Option<String>,
}

/// One answer line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub version: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadOutcome>,
}

impl Answer {
    pub fn error(code: &str, message: impl Into<String>) -> Answer {
        Answer {
            version: PROTOCOL_VERSION,
            ok: false,
            error: Some(ErrorBody {
                code: code.to_owned(),
                message: message.into(),
            }),
            status: None,
            reload: None,
        }
    }

    pub fn status(report: StatusReport) -> Answer {
        Answer {
            version: PROTOCOL_VERSION,
            ok: true,
            error: None,
            status: Some(report),
            reload: None,
        }
    }

    /// A reload answers `ok` only when the file was taken.
    pub fn reload(outcome: ReloadOutcome) -> Answer {
        Answer {
            version: PROTOCOL_VERSION,
            ok: outcome.applied,
            error: outcome.error.as_ref().map(|message| ErrorBody {
                code: "reload_rejected".to_owned(),
                message: message.clone(),
            }),
            status: None,
            reload: Some(outcome),
        }
    }

    /// The answer as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"version\":{PROTOCOL_VERSION},\"ok\":false,\"error\":{{\"code\":\"internal\",\"message\":\"cannot encode the answer: {e}\"}}}}"
            )
        });
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> &'static str {
        parse_request(line.as_bytes()).unwrap_err().code
    }

    #[test]
    fn parses_status_and_reload() {
        assert_eq!(
            parse_request(br#"{"version":1,"command":"status"}"#),
            Ok(Request::Status { router: None })
        );
        assert_eq!(
            parse_request(br#" {"version":1,"command":"status","router":"web"} "#),
            Ok(Request::Status {
                router: Some("web".into())
            })
        );
        assert_eq!(
            parse_request(br#"{"version":1,"command":"status","router":null}"#),
            Ok(Request::Status { router: None })
        );
        assert_eq!(
            parse_request(br#"{"command":"reload","version":1}"#),
            Ok(Request::Reload)
        );
    }

    #[test]
    fn requests_round_trip() {
        for request in [
            Request::Status { router: None },
            Request::Status {
                router: Some("web \"6\"".into()),
            },
            Request::Reload,
        ] {
            assert_eq!(parse_request(request.to_line().as_bytes()), Ok(request));
        }
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert_eq!(
            code(r#"{"version":1,"command":"dance"}"#),
            "unknown_command"
        );
        assert_eq!(
            code(r#"{"version":1,"command":"handover"}"#),
            "not_supported"
        );
        assert_eq!(
            code(r#"{"version":1,"command":"maintenance"}"#),
            "not_supported"
        );
        assert_eq!(
            code(r#"{"version":2,"command":"status"}"#),
            "unsupported_version"
        );
        assert_eq!(
            code(r#"{"version":"1","command":"status"}"#),
            "unsupported_version"
        );
        assert_eq!(code(r#"{"command":"status"}"#), "malformed");
        assert_eq!(code(r#"{"version":1}"#), "malformed");
        assert_eq!(code(r#"{"version":1,"command":7}"#), "malformed");
        assert_eq!(
            code(r#"{"version":1,"command":"status","router":7}"#),
            "malformed"
        );
        assert_eq!(
            code(r#"{"version":1,"command":"reload","router":"web"}"#),
            "malformed"
        );
        assert_eq!(
            code(r#"{"version":1,"command":"status","extra":1}"#),
            "malformed"
        );
        assert_eq!(code("status"), "malformed");
        assert_eq!(code(""), "malformed");
        assert_eq!(code("[1,2]"), "malformed");
        assert_eq!(parse_request(&[0xff, 0xfe]).unwrap_err().code, "malformed");
    }

    #[test]
    fn an_unknown_command_is_quoted_short() {
        let long = "x".repeat(10_000);
        let error =
            parse_request(format!(r#"{{"version":1,"command":"{long}"}}"#).as_bytes()).unwrap_err();
        assert_eq!(error.code, "unknown_command");
        assert!(error.message.len() < 200, "{}", error.message);
    }

    #[test]
    fn refuses_an_oversize_request() {
        let padding = " ".repeat(MAX_REQUEST_BYTES);
        let line = format!(r#"{{"version":1,"command":"status"}}{padding}"#);
        assert_eq!(code(&line), "too_large");
    }

    #[test]
    fn answers_are_one_line_with_version_and_ok() {
        let line = Answer::error("unknown_command", "no\nsuch").to_line();
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let back: Answer = serde_json::from_str(&line).unwrap();
        assert_eq!(back.version, PROTOCOL_VERSION);
        assert!(!back.ok);
        assert_eq!(back.error.unwrap().message, "no\nsuch");

        let rejected = Answer::reload(ReloadOutcome {
            applied: false,
            kept_running: true,
            error: Some("f.yaml:3:5: bad".into()),
        });
        assert!(!rejected.ok);
        assert_eq!(rejected.error.as_ref().unwrap().code, "reload_rejected");
        let taken = Answer::reload(ReloadOutcome {
            applied: true,
            kept_running: false,
            error: None,
        });
        assert!(taken.ok && taken.error.is_none());
    }
}

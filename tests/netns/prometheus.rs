//! A real Prometheus server (Debian's `prometheus`) in a namespace, and plain HTTP GETs
//! made from inside a namespace (a scrape of floatip, a query of Prometheus's API).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::{Daemon, Node, in_netns, require_tool};

/// One HTTP/1.1 GET from inside `ns`: the status code and the body, or why not.
pub fn http_get(ns: &str, target: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    http_raw(ns, target, request.as_bytes())
}

/// Sends `request` as is from inside `ns`; the status code and the body of the answer.
pub fn http_raw(ns: &str, target: SocketAddr, request: &[u8]) -> Result<(u16, String), String> {
    in_netns(ns, || {
        let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))
            .map_err(|e| format!("connect {target}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(request)
            .map_err(|e| format!("send: {e}"))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .map_err(|e| format!("read: {e}"))?;
        let answer = String::from_utf8_lossy(&answer).to_string();
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no header end in {answer:?}"))?;
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        Ok((code, body.to_string()))
    })
}

/// Percent-encodes a query parameter.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running Prometheus and where its API answers.
pub struct Prometheus {
    pub daemon: Daemon,
    pub ns: String,
    pub api: SocketAddr,
}

impl Prometheus {
    /// `GET /api/v1/query`: the result vector as (labels, value) pairs.
    pub fn query(&self, expr: &str) -> Result<Vec<(serde_json::Value, f64)>, String> {
        let (code, body) = http_get(
            &self.ns,
            self.api,
            &format!("/api/v1/query?query={}", encode(expr)),
        )?;
        if code != 200 {
            return Err(format!("query {expr}: HTTP {code}: {body}"));
        }
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("query {expr}: {e}: {body}"))?;
        let result = json["data"]["result"]
            .as_array()
            .ok_or_else(|| format!("query {expr}: no result in {body}"))?;
        Ok(result
            .iter()
            .filter_map(|sample| {
                let value = sample["value"][1].as_str()?.parse().ok()?;
                Some((sample["metric"].clone(), value))
            })
            .collect())
    }

    /// `GET /api/v1/alerts`: the alerts firing now, as (alertname, labels).
    pub fn firing(&self) -> Result<Vec<(String, serde_json::Value)>, String> {
        let (code, body) = http_get(&self.ns, self.api, "/api/v1/alerts")?;
        if code != 200 {
            return Err(format!("alerts: HTTP {code}: {body}"));
        }
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("alerts: {e}: {body}"))?;
        Ok(json["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                    a["labels"].clone(),
                )
            })
            .collect())
    }
}

impl Node {
    /// Starts Prometheus here, listening on this node's address (port 9090), with its
    /// own configuration and storage in the topology's directory, scraping `targets`
    /// every second and evaluating `rules` (a rule file) every second. Waits until it
    /// is ready.
    pub fn start_prometheus(&self, targets: &[SocketAddr], rules: &Path) -> Prometheus {
        require_tool("prometheus", "prometheus");
        let dir = self.shared.dir.join(format!("prometheus-{}", self.role));
        std::fs::create_dir_all(dir.join("data")).expect("prometheus directory");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['{}']\n\
             scrape_configs:\n  - job_name: floatip\n    static_configs:\n      - targets: [{}]\n",
            rules.display(),
            targets.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let api = SocketAddr::new(self.ip4().into(), 9090);
        let daemon = self.spawn_process(&[
            "prometheus",
            &format!("--config.file={}", config_path.display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address={api}"),
        ]);
        let prometheus = Prometheus {
            daemon,
            ns: self.ns.clone(),
            api,
        };
        super::wait_for(Duration::from_secs(30), || {
            matches!(http_get(&self.ns, api, "/-/ready"), Ok((200, _)))
        })
        .unwrap_or_else(|e| {
            panic!(
                "Prometheus in {} not ready: {e}\n{}",
                self.ns,
                prometheus.daemon.log_tail(30)
            )
        });
        prometheus
    }
}

//! Typed builders for the daemon's YAML config, so the scenarios do not each spell the
//! schema out: when the schema changes, this is the one place to follow it.

use std::fmt::Write;
use std::time::Duration;

/// `master_down = 3 * advert_interval + skew`, `skew = (256 - priority) * interval / 256`
/// (RFC 9568 §6.1), for bounds in assertions.
pub fn master_down(priority: u8, advert_interval: Duration) -> Duration {
    let skew = advert_interval * (256 - u32::from(priority)) / 256;
    advert_interval * 3 + skew
}

/// Unicast mode: our source and the peers we send to (and only accept from).
#[derive(Clone, Debug)]
pub struct Unicast {
    pub source: String,
    pub peers: Vec<String>,
    /// `unicast.max_hops`; `None` leaves it out (default 0).
    pub max_hops: Option<u8>,
}

/// One virtual router.
#[derive(Clone, Debug)]
pub struct Router {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub advert_interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// With prefix length, e.g. `192.0.2.100/24`.
    pub addresses: Vec<String>,
    pub unicast: Option<Unicast>,
    /// More `key: value` lines, verbatim (for keys the builder has no method for).
    pub extra: Vec<String>,
}

impl Router {
    /// A router on eth0 with advert interval 100 ms, preempt on, no delay.
    pub fn new(name: &str, vrid: u8, priority: u8, addresses: &[&str]) -> Router {
        Router {
            name: name.to_string(),
            interface: "eth0".to_string(),
            vrid,
            priority,
            advert_interval: Duration::from_millis(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            unicast: None,
            extra: Vec::new(),
        }
    }

    pub fn interface(mut self, interface: &str) -> Router {
        self.interface = interface.to_string();
        self
    }

    pub fn preempt(mut self, preempt: bool) -> Router {
        self.preempt = preempt;
        self
    }

    pub fn preempt_delay(mut self, delay: Duration) -> Router {
        self.preempt_delay = delay;
        self
    }

    pub fn advert_interval(mut self, interval: Duration) -> Router {
        self.advert_interval = interval;
        self
    }

    pub fn unicast(mut self, source: &str, peers: &[&str]) -> Router {
        self.unicast = Some(Unicast {
            source: source.to_string(),
            peers: peers.iter().map(|p| p.to_string()).collect(),
            max_hops: None,
        });
        self
    }

    /// Sets `unicast.max_hops` (after [`Router::unicast`]).
    pub fn max_hops(mut self, hops: u8) -> Router {
        let unicast = self.unicast.as_mut().expect("max_hops needs unicast first");
        unicast.max_hops = Some(hops);
        self
    }

    /// Adds a verbatim `key: value` line to the router.
    pub fn with(mut self, line: &str) -> Router {
        self.extra.push(line.to_string());
        self
    }

    /// This router's master-down interval.
    pub fn master_down(&self) -> Duration {
        master_down(self.priority, self.advert_interval)
    }
}

/// A whole config file.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub routers: Vec<Router>,
    pub sync_groups: Vec<(String, Vec<String>)>,
    /// More top-level YAML, verbatim (`checks:`, `global:`).
    pub top: Vec<String>,
}

impl Config {
    pub fn new(routers: Vec<Router>) -> Config {
        Config {
            routers,
            sync_groups: Vec::new(),
            top: Vec::new(),
        }
    }

    pub fn one(router: Router) -> Config {
        Config::new(vec![router])
    }

    pub fn sync_group(mut self, name: &str, routers: &[&str]) -> Config {
        self.sync_groups.push((
            name.to_string(),
            routers.iter().map(|r| r.to_string()).collect(),
        ));
        self
    }

    /// Adds top-level YAML verbatim, e.g. a whole `checks:` section.
    pub fn top(mut self, yaml: &str) -> Config {
        self.top.push(yaml.to_string());
        self
    }

    pub fn to_yaml(&self) -> String {
        let mut y = self.top.join("\n");
        if !y.is_empty() && !y.ends_with('\n') {
            y.push('\n');
        }
        y.push_str("routers:\n");
        for r in &self.routers {
            let _ = writeln!(y, "  - name: {}", r.name);
            let _ = writeln!(y, "    interface: {}", r.interface);
            let _ = writeln!(y, "    vrid: {}", r.vrid);
            let _ = writeln!(y, "    priority: {}", r.priority);
            let _ = writeln!(y, "    advert_interval: {}", duration(r.advert_interval));
            let _ = writeln!(y, "    preempt: {}", r.preempt);
            let _ = writeln!(y, "    preempt_delay: {}", duration(r.preempt_delay));
            let _ = writeln!(y, "    addresses: [{}]", quoted(&r.addresses));
            if let Some(u) = &r.unicast {
                let _ = writeln!(y, "    unicast:");
                let _ = writeln!(y, "      source: \"{}\"", u.source);
                let _ = writeln!(y, "      peers: [{}]", quoted(&u.peers));
                if let Some(hops) = u.max_hops {
                    let _ = writeln!(y, "      max_hops: {hops}");
                }
            }
            for line in &r.extra {
                let _ = writeln!(y, "    {line}");
            }
        }
        if !self.sync_groups.is_empty() {
            y.push_str("sync_groups:\n");
            for (name, routers) in &self.sync_groups {
                let _ = writeln!(y, "  - name: {name}");
                let _ = writeln!(y, "    routers: [{}]", routers.join(", "));
            }
        }
        y
    }
}

/// `"a", "b"`: quoted, since IPv6 addresses are full of colons.
fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration with a unit, as the config wants it.
fn duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 || d.is_zero() {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

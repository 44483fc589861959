//! The VRRP half of a keepalived configuration, as floatip YAML.
//!
//! Owns the meaning of keepalived's VRRP keywords and how each maps, keeping behaviour
//! rather than spelling: keepalived's default `vrrp_version 2` is written as `version: 2`;
//! `advert_int` seconds become a duration; `state MASTER` clears `nopreempt` and
//! `preempt_delay` in keepalived 2.2, so the translation keeps preemption and says why.
//! Everything not carried over goes to the report with its file:line and what to do.
//! Must not touch the network or the system beyond the files it was given.
//!
//! Weights, the rule (keepalived.conf(5), 2.2): a tracked script, interface, file or
//! process with weight 0 puts the instance in FAULT while failing; weight W > 0 adds W
//! while passing; W < 0 adds W while failing; a file multiplies its value by W. The
//! effective weight is the one on the `track_*` line, else the tracked object's own
//! (scripts default 0, files and processes 1, interfaces 0). An address owner (priority
//! 255) and a member of a sync group without `sync_group_tracking_weight` must use
//! weight 0 (keepalived resets others to 0). floatip's check `weight` has exactly these
//! semantics, so the effective weight is written as is; a tracked object used with two
//! different effective weights becomes two checks (`NAME.weight-20`). `reverse` has no
//! equivalent and is left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use super::idiom::{Idiom, recognise};
use super::lexer::{Source, Word};
use super::parse::Node;
use super::report::{Kind, Pos, Report, place};
use crate::config::format_duration;

/// The lines a block covers: (file, first line, last line).
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    file: u32,
    first: u32,
    last: u32,
}

impl Span {
    fn of(node: &Node) -> Span {
        let pos = node.pos();
        let mut span = Span {
            file: pos.file,
            first: pos.line,
            last: pos.line,
        };
        span.extend(node);
        span
    }

    fn extend(&mut self, node: &Node) {
        for word in std::iter::once(&node.keyword).chain(&node.args) {
            if word.pos.file == self.file {
                self.last = self.last.max(word.pos.line);
            }
        }
        for child in node.children() {
            self.extend(child);
        }
    }

    fn contains(&self, pos: Pos) -> bool {
        pos.file == self.file && (self.first..=self.last).contains(&pos.line)
    }
}

/// What the translation produced.
pub struct Translation {
    /// `None` when no router could be carried over.
    pub yaml: Option<String>,
    pub report: Report,
}

#[derive(Default)]
struct Globals {
    version: Option<(u8, Pos)>,
    script_user: Option<(String, Pos)>,
    router_id: Option<String>,
    strict: Option<Pos>,
    garp: Garp,
}

/// Gratuitous ARP settings (global defaults or one instance's).
#[derive(Default, Clone)]
struct Garp {
    master_delay: Option<(f64, Pos)>,
    master_repeat: Option<(u32, Pos)>,
    master_refresh: Option<(f64, Pos)>,
    interval: Option<(f64, Pos)>,
    gna_interval: Option<(f64, Pos)>,
}

struct Script {
    pos: Pos,
    span: Span,
    argv: Vec<String>,
    command_pos: Pos,
    interval: Option<f64>,
    timeout: Option<f64>,
    weight: i64,
    reverse: bool,
    rise: Option<i64>,
    fall: Option<i64>,
    init_fail: bool,
}

struct TrackFile {
    pos: Pos,
    span: Span,
    file: Option<String>,
    weight: i64,
    reverse: bool,
}

struct TrackProcess {
    pos: Pos,
    span: Span,
    /// Whether `weight` was written (keepalived's default is 1, rarely what was meant).
    weight_set: bool,
    process: Option<String>,
    weight: i64,
    reverse: bool,
    quorum: i64,
    delay: Option<f64>,
}

/// A `track_*` line of an instance or sync group.
struct TrackRef {
    kind: TrackKind,
    name: Word,
    weight: Option<i64>,
    reverse: Option<bool>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TrackKind {
    Script,
    File,
    Process,
    Interface,
}

struct Instance {
    node_pos: Pos,
    span: Span,
    name: String,
    keepalived_name: String,
    interface: Option<String>,
    vrid: Option<i64>,
    priority: i64,
    advert_int: Option<(f64, Pos)>,
    version: Option<(u8, Pos)>,
    state_master: Option<Pos>,
    nopreempt: Option<Pos>,
    preempt_delay: Option<(f64, Pos)>,
    accept: Option<bool>,
    unicast_src: Option<String>,
    unicast_peers: Vec<String>,
    password: Option<(String, Pos)>,
    addresses: Vec<(String, Option<String>, Option<String>)>,
    tracks: Vec<TrackRef>,
    notify: Notify,
    garp: Garp,
    /// Comments for the router in the YAML.
    comments: Vec<String>,
}

#[derive(Default)]
struct Notify {
    command: Option<Vec<String>>,
    master: Option<Vec<String>>,
    backup: Option<Vec<String>>,
    fault: Option<Vec<String>>,
    stop: Option<Vec<String>>,
}

struct Group {
    pos: Pos,
    span: Span,
    name: String,
    members: Vec<Word>,
    tracks: Vec<TrackRef>,
    notify: Notify,
    keep_weights: bool,
}

struct T<'a> {
    sources: &'a [Source],
    report: Report,
    globals: Globals,
    scripts: BTreeMap<String, Script>,
    files: BTreeMap<String, TrackFile>,
    processes: BTreeMap<String, TrackProcess>,
    instances: Vec<Instance>,
    groups: Vec<Group>,
    /// Checks written: (kind, keepalived name, effective weight) -> floatip name.
    checks: BTreeMap<(TrackKind, String, i64), String>,
    check_yaml: Vec<String>,
}

/// Translate parsed statements (from `sources`).
pub fn translate(nodes: &[Node], sources: &[Source]) -> Translation {
    let mut t = T {
        sources,
        report: Report::default(),
        globals: Globals::default(),
        scripts: BTreeMap::new(),
        files: BTreeMap::new(),
        processes: BTreeMap::new(),
        instances: Vec::new(),
        groups: Vec::new(),
        checks: BTreeMap::new(),
        check_yaml: Vec::new(),
    };
    // Definitions first: keywords may come in any order.
    for node in nodes {
        match node.name() {
            "global_defs" => t.global_defs(node),
            "vrrp_script" => t.vrrp_script(node),
            "vrrp_track_file" | "track_file" => t.track_file(node),
            "vrrp_track_process" => t.track_process(node),
            _ => {}
        }
    }
    for node in nodes {
        match node.name() {
            "global_defs" | "vrrp_script" | "vrrp_track_file" | "track_file"
            | "vrrp_track_process" => {}
            "vrrp_instance" => t.vrrp_instance(node),
            "vrrp_sync_group" => t.sync_group(node),
            other => t.top_level_left_out(node, other),
        }
    }
    let yaml = t.emit();
    Translation {
        yaml,
        report: t.report,
    }
}

/// What to do instead, for top-level sections floatip does not have.
fn top_level_help(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "virtual_server" | "virtual_server_group" => {
            "floatip does not drive LVS/IPVS; keep keepalived's checker (`keepalived --check`) or move the service behind HAProxy"
        }
        "static_ipaddress" | "static_routes" | "static_rules" => {
            "configure static addresses, routes and rules with the system's network configuration (systemd-networkd, ifupdown)"
        }
        "bfd_instance" => {
            "floatip has no BFD; track the peer link with an `interface` check, or run bfdd (FRR)"
        }
        "linkbeat_interfaces" => "floatip watches links with netlink; nothing to do",
        "garp_group" => "set `announce.burst_interval` on the routers of those interfaces",
        "net_namespace" | "net_namespace_ipvs" => {
            "run floatip inside the namespace (`ip netns exec NAME floatip run`, or NetworkNamespacePath= in the unit)"
        }
        "interface_up_down_delays" => {
            "floatip reacts to link changes at once; keep the interface stable, or raise advert_interval"
        }
        "track_group" => "no equivalent",
        _ => return None,
    })
}

impl T<'_> {
    fn at(&self, pos: Pos) -> String {
        place(self.sources, pos)
    }

    fn top_level_left_out(&mut self, node: &Node, keyword: &str) {
        let help = match top_level_help(keyword) {
            Some(help) => help.to_owned(),
            None => "unknown to keepalived 2.2's VRRP configuration; check the spelling".to_owned(),
        };
        let message = if top_level_help(keyword).is_some() {
            format!("`{keyword}` is not carried over")
        } else {
            format!("unknown keyword `{keyword}`")
        };
        self.report.left_out(node.pos(), message, help);
    }

    // ----- values -------------------------------------------------------------------

    /// Words after the value(s) a keyword takes: keepalived ignores them, and says so.
    fn extra(&mut self, node: &Node, takes: usize) {
        if let Some(word) = node.args.get(takes) {
            self.report.left_out(
                word.pos,
                format!(
                    "`{}` takes {takes} value(s); `{}` and the rest of the line are ignored (keepalived ignores them too)",
                    node.name(),
                    word.text
                ),
                "one keyword per line: put each on its own line",
            );
        }
    }

    fn int(&mut self, node: &Node, min: i64, max: i64) -> Option<i64> {
        self.extra(node, 1);
        let Some(word) = node.arg(0) else {
            self.report.error(
                node.pos(),
                format!("`{}` needs a value", node.name()),
                Some(format!("a whole number {min}..={max}")),
            );
            return None;
        };
        match word.text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.report.error(
                    word.pos,
                    format!("`{}` is not valid for `{}`", word.text, node.name()),
                    Some(format!("a whole number {min}..={max}")),
                );
                None
            }
        }
    }

    fn seconds(&mut self, node: &Node, max: f64) -> Option<f64> {
        self.extra(node, 1);
        let Some(word) = node.arg(0) else {
            self.report.error(
                node.pos(),
                format!("`{}` needs a value", node.name()),
                Some("a time in seconds, e.g. 1 or 0.5".to_owned()),
            );
            return None;
        };
        match word.text.parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=max).contains(&v) => Some(v),
            _ => {
                self.report.error(
                    word.pos,
                    format!("`{}` is not valid for `{}`", word.text, node.name()),
                    Some(format!("a time in seconds, 0..={max}, e.g. 1 or 0.5")),
                );
                None
            }
        }
    }

    fn string(&mut self, node: &Node) -> Option<String> {
        match node.arg(0) {
            Some(word) => Some(word.text.clone()),
            None => {
                self.report
                    .error(node.pos(), format!("`{}` needs a value", node.name()), None);
                None
            }
        }
    }

    fn ip(&mut self, word: &Word, what: &str) -> Option<IpAddr> {
        match word.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.report.error(
                    word.pos,
                    format!("`{}` is not an IP address ({what})", word.text),
                    None,
                );
                None
            }
        }
    }

    /// A weight line's rest: `weight W [reverse|noreverse|no_reverse]`.
    fn weight_args(&mut self, words: &[Word], min: i64, max: i64) -> (Option<i64>, Option<bool>) {
        let mut weight = None;
        let mut reverse = None;
        let mut i = 0;
        while i < words.len() {
            match words[i].text.as_str() {
                "weight" => {
                    match words.get(i + 1).map(|w| (w, w.text.parse::<i64>())) {
                        Some((_, Ok(v))) if (min..=max).contains(&v) => weight = Some(v),
                        Some((w, _)) => self.report.error(
                            w.pos,
                            format!("`{}` is not a weight", w.text),
                            Some(format!("a weight is a whole number {min}..={max}")),
                        ),
                        None => self
                            .report
                            .error(words[i].pos, "`weight` needs a value", None),
                    }
                    i += 2;
                    continue;
                }
                "reverse" => reverse = Some(true),
                "noreverse" | "no_reverse" => reverse = Some(false),
                other => self.report.left_out(
                    words[i].pos,
                    format!("`{other}` is not carried over"),
                    "no equivalent; remove it",
                ),
            }
            i += 1;
        }
        (weight, reverse)
    }

    /// A script or hook: one word is split like a shell line (single quotes keep spaces);
    /// several words are the arguments.
    fn command(&mut self, words: &[Word]) -> Vec<String> {
        if words.len() == 1 {
            split_command(&words[0].text)
        } else {
            words.iter().map(|w| w.text.clone()).collect()
        }
    }

    /// A program keepalived finds in PATH gets a full path (floatip searches no PATH).
    fn absolute(&mut self, mut argv: Vec<String>, pos: Pos) -> Vec<String> {
        if let Some(program) = argv.first_mut()
            && !program.starts_with('/')
        {
            let full = format!("/usr/bin/{program}");
            self.report.approximated(
                pos,
                format!(
                    "`{program}` is looked up in PATH by keepalived; floatip runs programs by full path only: written as `{full}`, check that this is where it is"
                ),
            );
            *program = full;
        }
        argv
    }

    // ----- global_defs -----------------------------------------------------------------

    fn global_defs(&mut self, node: &Node) {
        for child in node.children() {
            let pos = child.pos();
            match child.name() {
                "router_id" => self.globals.router_id = child.arg(0).map(|w| w.text.clone()),
                "script_user" => {
                    if let Some(user) = self.string(child) {
                        if child.args.len() > 1 {
                            self.report.approximated(
                                child.args[1].pos,
                                "the script group is not carried over: scripts run with script_user's own group",
                            );
                        }
                        self.globals.script_user = Some((user, pos));
                    }
                }
                "enable_script_security" => self.report.note(
                    pos,
                    "enable_script_security: always on in floatip (scripts never run as root, by full path, no shell)",
                ),
                "vrrp_version" => {
                    if let Some(v) = self.int(child, 2, 3) {
                        self.globals.version = Some((v as u8, pos));
                    }
                }
                "vrrp_strict" => self.globals.strict = Some(pos),
                "vrrp_garp_master_delay" | "vrrp_garp_master_repeat" | "vrrp_garp_master_refresh"
                | "vrrp_garp_interval" | "vrrp_gna_interval" => {
                    let name = child.name().trim_start_matches("vrrp_").to_owned();
                    let mut garp = std::mem::take(&mut self.globals.garp);
                    self.garp_keyword(&mut garp, &name, child);
                    self.globals.garp = garp;
                }
                "vrrp_garp_lower_prio_delay" | "vrrp_garp_lower_prio_repeat" => self.report.approximated(
                    pos,
                    format!("`{}`: a floatip master that hears a lower priority advertises and announces at once", child.name()),
                ),
                "vrrp_garp_master_refresh_repeat" => self.report.left_out(
                    pos,
                    "`vrrp_garp_master_refresh_repeat` is not carried over",
                    "a refresh sends one burst (`announce.burst` frames)",
                ),
                "vrrp_skip_check_adv_addr" | "vrrp_check_unicast_src" => self.report.note(
                    pos,
                    format!("`{}`: floatip accepts an advertisement whose address list differs (and logs it), and in unicast mode accepts only the listed peers", child.name()),
                ),
                "notification_email" | "notification_email_from" | "smtp_server"
                | "smtp_connect_timeout" | "smtp_helo_name" | "no_email_faults"
                | "smtp_alert_checker" => self.report.note(
                    pos,
                    format!("`{}`: mail settings, used only by `smtp_alert` (reported where it is set); floatip sends no mail", child.name()),
                ),
                "smtp_alert" | "smtp_alert_vrrp" => self.report.left_out(
                    pos,
                    format!("`{}` is not carried over: floatip sends no mail", child.name()),
                    "send mail from a notify hook, or watch `global.event_socket`",
                ),
                "vrrp_notify_fifo" | "notify_fifo" | "vrrp_notify_fifo_script" | "notify_fifo_script" => {
                    self.report.left_out(
                        pos,
                        format!("`{}` is not carried over", child.name()),
                        "use `global.event_socket`: one JSON line per state, priority and check change",
                    )
                }
                "script_security" | "max_auto_priority" | "vrrp_no_swap" | "checker_no_swap"
                | "vrrp_priority" | "checker_priority" | "vrrp_rt_priority" | "vrrp_rlimit_rttime"
                | "vrrp_cpu_affinity" | "process_names" | "vrrp_process_name" | "use_pid_dir"
                | "instance" | "checker_log_all_failures" | "lvs_id" | "lvs_sync_daemon"
                | "lvs_timeouts" | "lvs_flush" | "child_wait_time" | "vrrp_rx_bufs_policy"
                | "vrrp_rx_bufs_multiplier" | "dynamic_interfaces" | "vrrp_netlink_cmd_rcv_bufs"
                | "vrrp_netlink_monitor_rcv_bufs" | "default_interface" => self.report.note(
                    pos,
                    format!("`{}` has no effect on VRRP in floatip (process tuning, LVS or defaults floatip does not need)", child.name()),
                ),
                other => self.report.left_out(
                    pos,
                    format!("global_defs `{other}` is not carried over"),
                    "no floatip equivalent; see the README's keepalived table",
                ),
            }
        }
    }

    fn garp_keyword(&mut self, garp: &mut Garp, name: &str, node: &Node) {
        let pos = node.pos();
        match name {
            "garp_master_delay" => garp.master_delay = self.seconds(node, 3600.0).map(|v| (v, pos)),
            "garp_master_repeat" => {
                garp.master_repeat = self.int(node, 1, 255).map(|v| (v as u32, pos))
            }
            "garp_master_refresh" => {
                garp.master_refresh = self.seconds(node, 86400.0).map(|v| (v, pos))
            }
            "garp_interval" => garp.interval = self.seconds(node, 1.0).map(|v| (v, pos)),
            "gna_interval" => garp.gna_interval = self.seconds(node, 1.0).map(|v| (v, pos)),
            _ => {}
        }
    }

    // ----- tracked objects ------------------------------------------------------------

    fn vrrp_script(&mut self, node: &Node) {
        let Some(name) = self.block_name(node) else {
            return;
        };
        let mut script = Script {
            pos: node.pos(),
            span: Span::of(node),
            argv: Vec::new(),
            command_pos: node.pos(),
            interval: None,
            timeout: None,
            weight: 0,
            reverse: false,
            rise: None,
            fall: None,
            init_fail: false,
        };
        for child in node.children() {
            match child.name() {
                "script" => {
                    script.argv = self.command(&child.args);
                    script.command_pos = child.args.first().map_or(child.pos(), |w| w.pos);
                }
                "interval" => script.interval = self.seconds(child, 3600.0),
                "timeout" => script.timeout = self.seconds(child, 3600.0),
                "weight" => {
                    let words: Vec<Word> = std::iter::once(child.keyword.clone()).chain(child.args.iter().cloned()).collect();
                    let (w, r) = self.weight_args(&words, -253, 253);
                    script.weight = w.unwrap_or(0);
                    script.reverse = r.unwrap_or(false);
                }
                "rise" => script.rise = self.int(child, 1, i64::from(u32::MAX)),
                "fall" => script.fall = self.int(child, 1, i64::from(u32::MAX)),
                "init_fail" => script.init_fail = true,
                "user" => self.report.approximated(
                    child.pos(),
                    "a per-script user is not carried over: every script runs as `global.script_user`",
                ),
                other => self.report.left_out(
                    child.pos(),
                    format!("vrrp_script `{other}` is not carried over"),
                    "no floatip equivalent",
                ),
            }
        }
        if script.argv.is_empty() {
            self.report.error(
                node.pos(),
                format!("vrrp_script {name} has no `script`"),
                None,
            );
        }
        self.scripts.insert(name, script);
    }

    fn track_file(&mut self, node: &Node) {
        let Some(name) = self.block_name(node) else {
            return;
        };
        let mut file = TrackFile {
            pos: node.pos(),
            span: Span::of(node),
            file: None,
            weight: 1,
            reverse: false,
        };
        for child in node.children() {
            match child.name() {
                "file" => file.file = self.string(child),
                "weight" => {
                    let words: Vec<Word> = std::iter::once(child.keyword.clone()).chain(child.args.iter().cloned()).collect();
                    let (w, r) = self.weight_args(&words, -2_147_483_647, 2_147_483_647);
                    file.weight = w.unwrap_or(1);
                    file.reverse = r.unwrap_or(false);
                }
                "init_file" => self.report.left_out(
                    child.pos(),
                    "`init_file` is not carried over",
                    "create the file at boot instead, e.g. a systemd-tmpfiles line `f /run/floatip/drain 0644 root root - 0`",
                ),
                other => self.report.left_out(
                    child.pos(),
                    format!("track_file `{other}` is not carried over"),
                    "no floatip equivalent",
                ),
            }
        }
        if file.file.is_none() {
            self.report
                .error(node.pos(), format!("track_file {name} has no `file`"), None);
        }
        self.files.insert(name, file);
    }

    fn track_process(&mut self, node: &Node) {
        let Some(name) = self.block_name(node) else {
            return;
        };
        let mut process = TrackProcess {
            pos: node.pos(),
            span: Span::of(node),
            weight_set: false,
            process: None,
            weight: 1,
            reverse: false,
            quorum: 1,
            delay: None,
        };
        for child in node.children() {
            let pos = child.pos();
            match child.name() {
                "process" => {
                    process.process = self.string(child);
                    if child.args.len() > 1 {
                        self.report.approximated(
                            child.args[1].pos,
                            "process parameters are not matched: the process check counts processes by name only",
                        );
                    }
                }
                "weight" => {
                    let words: Vec<Word> = std::iter::once(child.keyword.clone()).chain(child.args.iter().cloned()).collect();
                    let (w, r) = self.weight_args(&words, -254, 254);
                    process.weight = w.unwrap_or(1);
                    process.weight_set = w.is_some();
                    process.reverse = r.unwrap_or(false);
                }
                "quorum" => process.quorum = self.int(child, 1, 65535).unwrap_or(1),
                "delay" | "terminate_delay" => process.delay = self.seconds(child, 3600.0),
                "fork_delay" => self.report.approximated(
                    pos,
                    "`fork_delay`: a new process counts from the next rescan (`rescan`, 500ms by default)",
                ),
                "quorum_max" => self.report.left_out(
                    pos,
                    "`quorum_max` is not carried over",
                    "the process check has only a minimum (`min`)",
                ),
                "full_command" | "param_match" => self.report.left_out(
                    pos,
                    format!("`{}` is not carried over", child.name()),
                    "the process check matches the process name (/proc/PID/comm) only; use a script check for command lines",
                ),
                other => self.report.left_out(
                    pos,
                    format!("vrrp_track_process `{other}` is not carried over"),
                    "no floatip equivalent",
                ),
            }
        }
        if process.process.is_none() {
            self.report.error(
                node.pos(),
                format!("vrrp_track_process {name} has no `process`"),
                None,
            );
        }
        self.processes.insert(name, process);
    }

    fn block_name(&mut self, node: &Node) -> Option<String> {
        match node.arg(0) {
            Some(word) => Some(word.text.clone()),
            None => {
                self.report.error(
                    node.pos(),
                    format!("`{}` needs a name", node.name()),
                    Some(format!("write `{} NAME {{ ... }}`", node.name())),
                );
                None
            }
        }
    }

    /// `track_* { NAME [weight W] [reverse] ... }`.
    fn track_block(&mut self, node: &Node, kind: TrackKind, out: &mut Vec<TrackRef>) {
        let (min, max) = match kind {
            TrackKind::Script | TrackKind::Interface => (-253, 253),
            TrackKind::File | TrackKind::Process => (-254, 254),
        };
        for entry in node.children() {
            let (weight, reverse) = self.weight_args(&entry.args, min, max);
            out.push(TrackRef {
                kind,
                name: entry.keyword.clone(),
                weight,
                reverse,
            });
        }
        // `track_script chk` on one line, without a block.
        if node.block.is_none() {
            for word in &node.args {
                out.push(TrackRef {
                    kind,
                    name: word.clone(),
                    weight: None,
                    reverse: None,
                });
            }
        }
    }

    // ----- instances ----------------------------------------------------------------

    fn notify_keyword(&mut self, child: &Node, notify: &mut Notify) -> bool {
        if !matches!(
            child.name(),
            "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
        ) {
            return false;
        }
        let Some(first) = child.args.first() else {
            self.report.error(
                child.pos(),
                format!("`{}` needs a script", child.name()),
                None,
            );
            return true;
        };
        // The script is the first word; the rest are a user and a group.
        let argv = self.command(std::slice::from_ref(first));
        let argv = self.absolute(argv, first.pos);
        if let Some(user) = child.args.get(1) {
            self.report.approximated(
                user.pos,
                format!(
                    "hook user `{}` is not carried over: hooks run as `global.script_user`",
                    user.text
                ),
            );
        }
        let slot = match child.name() {
            "notify" => &mut notify.command,
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            _ => &mut notify.stop,
        };
        *slot = Some(argv);
        true
    }

    fn vrrp_instance(&mut self, node: &Node) {
        let Some(keepalived_name) = self.block_name(node) else {
            return;
        };
        let name = sanitize_name(&keepalived_name);
        if name != keepalived_name {
            self.report.approximated(
                node.args[0].pos,
                format!("instance `{keepalived_name}` is named `{name}`: floatip names are letters, digits, `-`, `_` and `.`"),
            );
        }
        let mut inst = Instance {
            node_pos: node.pos(),
            span: Span::of(node),
            name,
            keepalived_name,
            interface: None,
            vrid: None,
            priority: 100,
            advert_int: None,
            version: None,
            state_master: None,
            nopreempt: None,
            preempt_delay: None,
            accept: None,
            unicast_src: None,
            unicast_peers: Vec::new(),
            password: None,
            addresses: Vec::new(),
            tracks: Vec::new(),
            notify: Notify::default(),
            garp: Garp::default(),
            comments: Vec::new(),
        };
        let mut auth_type_pass = true;
        for child in node.children() {
            let pos = child.pos();
            if self.notify_keyword(child, &mut inst.notify) {
                continue;
            }
            match child.name() {
                "state" => match child.arg(0).map(|w| w.text.as_str()) {
                    Some("MASTER") => inst.state_master = Some(pos),
                    Some("BACKUP") => {}
                    other => self.report.note(
                        pos,
                        format!(
                            "`state {}` is neither MASTER nor BACKUP: keepalived starts it as BACKUP, as floatip does",
                            other.unwrap_or("")
                        ),
                    ),
                },
                "interface" => {
                    self.extra(child, 1);
                    inst.interface = self.string(child);
                }
                "virtual_router_id" => inst.vrid = self.int(child, 1, 255),
                "priority" => inst.priority = self.int(child, 1, 255).unwrap_or(100),
                "advert_int" => inst.advert_int = self.seconds(child, 255.0).map(|v| (v, pos)),
                "version" => inst.version = self.int(child, 2, 3).map(|v| (v as u8, pos)),
                "nopreempt" | "no_preempt" => inst.nopreempt = Some(pos),
                "preempt" => {}
                "preempt_delay" => inst.preempt_delay = self.seconds(child, 1000.0).map(|v| (v, pos)),
                "accept" => inst.accept = Some(true),
                "no_accept" => inst.accept = Some(false),
                "unicast_src_ip" => {
                    if let Some(w) = child.arg(0)
                        && self.ip(w, "unicast_src_ip").is_some()
                    {
                        inst.unicast_src = Some(w.text.clone());
                    }
                }
                "unicast_peer" => {
                    for peer in child.children() {
                        if self.ip(&peer.keyword, "unicast_peer").is_some() {
                            inst.unicast_peers.push(peer.keyword.text.clone());
                        }
                        if !peer.args.is_empty() {
                            self.report.left_out(
                                peer.args[0].pos,
                                "unicast_peer `min_ttl`/`max_ttl` are not carried over",
                                "floatip requires TTL 255 from peers (peers on the same link)",
                            );
                        }
                    }
                }
                "authentication" => {
                    for a in child.children() {
                        match a.name() {
                            "auth_type" => match a.arg(0).map(|w| w.text.as_str()) {
                                Some("PASS") => {}
                                Some("AH") => {
                                    auth_type_pass = false;
                                    self.report.left_out(
                                        a.pos(),
                                        "`auth_type AH` is not carried over: floatip has no IPsec AH",
                                        "drop authentication on both peers (RFC 3768 removed it), or use `auth_type PASS` during the migration",
                                    );
                                }
                                _ => self.report.error(a.pos(), "`auth_type` is PASS or AH", None),
                            },
                            "auth_pass" => {
                                if let Some(w) = a.arg(0) {
                                    inst.password = Some((w.text.clone(), w.pos));
                                }
                            }
                            other => self.report.left_out(
                                a.pos(),
                                format!("authentication `{other}` is not carried over"),
                                "no equivalent",
                            ),
                        }
                    }
                }
                "virtual_ipaddress" => {
                    for entry in child.children() {
                        self.vip(entry, &mut inst);
                    }
                }
                "virtual_ipaddress_excluded" => self.report.left_out(
                    pos,
                    "`virtual_ipaddress_excluded` is not carried over: floatip advertises every address it holds",
                    "add these addresses from notify.master and remove them from notify.backup/fault/stop, or list them under `addresses` if every peer runs floatip",
                ),
                "track_interface" => {
                    let mut tracks = std::mem::take(&mut inst.tracks);
                    self.track_block(child, TrackKind::Interface, &mut tracks);
                    inst.tracks = tracks;
                }
                "track_script" => {
                    let mut tracks = std::mem::take(&mut inst.tracks);
                    self.track_block(child, TrackKind::Script, &mut tracks);
                    inst.tracks = tracks;
                }
                "track_file" => {
                    let mut tracks = std::mem::take(&mut inst.tracks);
                    self.track_block(child, TrackKind::File, &mut tracks);
                    inst.tracks = tracks;
                }
                "track_process" => {
                    let mut tracks = std::mem::take(&mut inst.tracks);
                    self.track_block(child, TrackKind::Process, &mut tracks);
                    inst.tracks = tracks;
                }
                "garp_master_delay" | "garp_master_repeat" | "garp_master_refresh"
                | "garp_interval" | "gna_interval" => {
                    let mut garp = std::mem::take(&mut inst.garp);
                    self.garp_keyword(&mut garp, child.name(), child);
                    inst.garp = garp;
                }
                "garp_lower_prio_delay" | "garp_lower_prio_repeat" => self.report.approximated(
                    pos,
                    format!("`{}`: a floatip master that hears a lower priority advertises and announces at once", child.name()),
                ),
                "use_vmac" | "use_vmac_addr" | "vmac_xmit_base" | "use_ipvlan" => self.report.left_out(
                    pos,
                    format!("`{}` is not carried over: floatip uses the interface's own MAC address", child.name()),
                    "switches learn the move from gratuitous ARP / NA; if a device must see the virtual MAC 00:00:5e:00:01:VRID, keep keepalived for this router",
                ),
                "virtual_routes" | "virtual_rules" => self.report.left_out(
                    pos,
                    format!("`{}` is not carried over", child.name()),
                    "add the routes or rules from notify.master and remove them from notify.backup/fault/stop",
                ),
                "track_bfd" => self.report.left_out(
                    pos,
                    "`track_bfd` is not carried over: floatip has no BFD",
                    "track the link with track_interface (an `interface` check)",
                ),
                "mcast_src_ip" => self.report.left_out(
                    pos,
                    "`mcast_src_ip` is not carried over: multicast advertisements come from the interface's primary address",
                    "make the wanted address primary on the interface, or use unicast mode (`unicast.source`)",
                ),
                "mcast_dst_ip" => self.report.left_out(
                    pos,
                    "`mcast_dst_ip` is not carried over: floatip uses 224.0.0.18 / ff02::12",
                    "use unicast mode (`unicast.peers`)",
                ),
                "dont_track_primary" => self.report.left_out(
                    pos,
                    "`dont_track_primary` is not carried over: a router whose interface is down is in Fault",
                    "no equivalent",
                ),
                "strict_mode" => self.report.left_out(
                    pos,
                    "`strict_mode` is not carried over",
                    "floatip follows RFC 9568 where it matters; set `accept_mode: false` if that part was wanted",
                ),
                "smtp_alert" => self.report.left_out(
                    pos,
                    "`smtp_alert` is not carried over: floatip sends no mail",
                    "send mail from a notify hook",
                ),
                "notify_deleted" | "notify_master_rx_lower_pri" | "notify_priority_changes" => self.report.left_out(
                    pos,
                    format!("`{}` is not carried over", child.name()),
                    "watch `global.event_socket` (state, priority and check changes as JSON lines)",
                ),
                "down_timer_adverts" | "lower_prio_no_advert" | "higher_prio_send_advert"
                | "garp_master_refresh_repeat" | "garp_extra_if" | "garp_extra_if_vmac"
                | "unicast_ttl" | "vrf" | "promote_secondaries" | "linkbeat_use_polling"
                | "old_unicast_checksum" => self.report.left_out(
                    pos,
                    format!("`{}` is not carried over", child.name()),
                    "no floatip equivalent; floatip's behaviour is in the README",
                ),
                "track_src_ip" | "check_unicast_src" | "unicast_fault_no_peer"
                | "skip_check_adv_addr" | "native_ipv6" | "debug" | "kernel_rx_buf_size" => self.report.note(
                    pos,
                    format!("`{}`: nothing to carry over (floatip checks unicast sources, accepts differing address lists, takes the family from the addresses)", child.name()),
                ),
                other => self.report.left_out(
                    pos,
                    format!("unknown vrrp_instance keyword `{other}`"),
                    "not a keepalived 2.2 keyword; check the spelling",
                ),
            }
        }
        if !auth_type_pass {
            inst.password = None;
        }
        if inst.vrid.is_none()
            && !node
                .children()
                .iter()
                .any(|c| c.name() == "virtual_router_id")
        {
            self.report.error(
                node.pos(),
                format!(
                    "vrrp_instance {} has no virtual_router_id",
                    inst.keepalived_name
                ),
                Some("keepalived refuses it too; add `virtual_router_id 1..255`".to_owned()),
            );
        }
        self.instances.push(inst);
    }

    /// One `virtual_ipaddress` line: `ADDR[/LEN] [dev X] [label X] [options...]`.
    fn vip(&mut self, entry: &Node, inst: &mut Instance) {
        let text = &entry.keyword.text;
        let address = text.split('/').next().unwrap_or(text);
        if address.parse::<IpAddr>().is_err() {
            self.report.error(
                entry.pos(),
                format!("`{text}` is not an IP address"),
                Some("write ADDRESS[/PREFIX] [dev IFACE] [label LABEL]".to_owned()),
            );
            return;
        }
        let mut device = None;
        let mut label = None;
        let mut i = 0;
        let args = &entry.args;
        while i < args.len() {
            let key = args[i].text.as_str();
            let value = args.get(i + 1).map(|w| w.text.clone());
            match key {
                "dev" => {
                    device = value;
                    i += 2;
                }
                "label" => {
                    label = value;
                    i += 2;
                }
                "brd" | "broadcast" | "scope" | "peer" | "preferred_lft" | "track_group" => {
                    self.report.left_out(
                        args[i].pos,
                        format!("address option `{key}` is not carried over"),
                        "floatip adds the address with its prefix only; set the rest with a notify.master hook if needed",
                    );
                    i += 2;
                }
                "use_vmac" => {
                    self.report.left_out(
                        args[i].pos,
                        "address option `use_vmac` is not carried over",
                        "floatip uses the interface's own MAC address",
                    );
                    i += 1;
                }
                "no_track" | "home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute"
                | "autojoin" => {
                    self.report.left_out(
                        args[i].pos,
                        format!("address option `{key}` is not carried over"),
                        "no floatip equivalent",
                    );
                    i += 1;
                }
                _ => {
                    self.report.left_out(
                        args[i].pos,
                        format!("unknown address option `{key}`"),
                        "check the spelling",
                    );
                    i += 1;
                }
            }
        }
        if inst
            .addresses
            .iter()
            .any(|(a, _, _)| a.split('/').next() == Some(address))
        {
            self.report.left_out(
                entry.pos(),
                format!("{address} is listed twice; the second line is not carried over"),
                "keep one line per address (with the dev/label you want)",
            );
            return;
        }
        // keepalived's default prefix is the full length, as floatip's.
        inst.addresses.push((text.clone(), device, label));
    }

    // ----- sync groups ----------------------------------------------------------------

    fn sync_group(&mut self, node: &Node) {
        let Some(keepalived_name) = self.block_name(node) else {
            return;
        };
        let mut group = Group {
            pos: node.pos(),
            span: Span::of(node),
            name: sanitize_name(&keepalived_name),
            members: Vec::new(),
            tracks: Vec::new(),
            notify: Notify::default(),
            keep_weights: false,
        };
        for child in node.children() {
            if self.notify_keyword(child, &mut group.notify) {
                continue;
            }
            let pos = child.pos();
            match child.name() {
                "group" => {
                    for member in child.children() {
                        group.members.push(member.keyword.clone());
                        group.members.extend(member.args.iter().cloned());
                    }
                    group.members.extend(child.args.iter().cloned());
                }
                "track_interface" => {
                    self.track_block(child, TrackKind::Interface, &mut group.tracks)
                }
                "track_script" => self.track_block(child, TrackKind::Script, &mut group.tracks),
                "track_file" => self.track_block(child, TrackKind::File, &mut group.tracks),
                "track_process" => self.track_block(child, TrackKind::Process, &mut group.tracks),
                "sync_group_tracking_weight" | "global_tracking" => group.keep_weights = true,
                "smtp_alert" => self.report.left_out(
                    pos,
                    "`smtp_alert` is not carried over: floatip sends no mail",
                    "send mail from the group's notify hook",
                ),
                "notify_priority_changes" => self.report.left_out(
                    pos,
                    "`notify_priority_changes` is not carried over",
                    "watch `global.event_socket`",
                ),
                "track_bfd" => self.report.left_out(
                    pos,
                    "`track_bfd` is not carried over: floatip has no BFD",
                    "track the link with an `interface` check",
                ),
                other => self.report.left_out(
                    pos,
                    format!("unknown vrrp_sync_group keyword `{other}`"),
                    "check the spelling",
                ),
            }
        }
        self.groups.push(group);
    }

    // ----- checks -----------------------------------------------------------------------

    /// The floatip check for a tracked object at an effective weight: its name, written
    /// once. `None` (with a report item) when the object is unknown or not expressible.
    fn check_for(
        &mut self,
        track: &TrackRef,
        in_group_without_weights: bool,
        owner: bool,
    ) -> Option<String> {
        let key_name = track.name.text.clone();
        let (default_weight, default_reverse, exists) = match track.kind {
            TrackKind::Script => self
                .scripts
                .get(&key_name)
                .map_or((0, false, false), |s| (s.weight, s.reverse, true)),
            TrackKind::File => self
                .files
                .get(&key_name)
                .map_or((1, false, false), |f| (f.weight, f.reverse, true)),
            TrackKind::Process => self
                .processes
                .get(&key_name)
                .map_or((1, false, false), |p| (p.weight, p.reverse, true)),
            TrackKind::Interface => (0, false, true),
        };
        if !exists {
            self.report.left_out(
                track.name.pos,
                format!("`{key_name}` is tracked but not defined"),
                "keepalived ignores it too; define it or remove the line",
            );
            return None;
        }
        let mut weight = track.weight.unwrap_or(default_weight);
        if track.kind == TrackKind::Process
            && track.weight.is_none()
            && self.processes.get(&key_name).is_some_and(|p| !p.weight_set)
        {
            self.report.note(
                track.name.pos,
                format!("`{key_name}` has no weight: keepalived's default for a tracked process is 1 (priority +1 while it runs), kept as is; weight 0 would put the router in Fault when it stops"),
            );
        }
        if track.reverse.unwrap_or(default_reverse) {
            self.report.left_out(
                track.name.pos,
                format!("`reverse` on `{key_name}` is not carried over: floatip has no inverted checks"),
                "invert the check itself (e.g. a script that exits 1 when the service is up), then track it without reverse",
            );
            return None;
        }
        if weight != 0 && (in_group_without_weights || owner) {
            let why = if owner {
                "the instance is the address owner (priority 255)"
            } else {
                "the instance is in a sync group without sync_group_tracking_weight"
            };
            self.report.note(
                track.name.pos,
                format!("`{key_name}` weight {weight} is 0 here, as keepalived applies it: {why}; a failure puts the router in Fault"),
            );
            weight = 0;
        }
        if weight.abs() > 254 {
            let clamped = weight.clamp(-254, 254);
            self.report.approximated(
                track.name.pos,
                format!("`{key_name}` weight {weight} is written as {clamped}, floatip's limit"),
            );
            weight = clamped;
        }
        let key = (track.kind, key_name.clone(), weight);
        if let Some(name) = self.checks.get(&key) {
            return Some(name.clone());
        }
        let base = match track.kind {
            TrackKind::Interface => format!("interface-{}", sanitize_name(&key_name)),
            _ => sanitize_name(&key_name),
        };
        let taken = |name: &str| self.checks.values().any(|n| n == name);
        let mut name = base.clone();
        if taken(&name) {
            name = format!("{base}.weight{weight}");
        }
        let mut n = 2;
        while taken(&name) {
            name = format!("{base}.{n}");
            n += 1;
        }
        let text = match track.kind {
            TrackKind::Script => self.script_check(&name, &key_name, weight),
            TrackKind::File => self.file_check(&name, &key_name, weight),
            TrackKind::Process => self.process_check(&name, &key_name, weight),
            TrackKind::Interface => Some(format!(
                "  # from {} (track_interface {key_name})\n  - name: {}\n    interface: {}\n    weight: {weight}\n",
                self.at(track.name.pos),
                yaml_str(&name),
                yaml_str(&key_name)
            )),
        }?;
        let span = match track.kind {
            TrackKind::Script => self.scripts.get(&key_name).map(|x| x.span),
            TrackKind::File => self.files.get(&key_name).map(|x| x.span),
            TrackKind::Process => self.processes.get(&key_name).map(|x| x.span),
            TrackKind::Interface => None,
        };
        let text = match span {
            Some(span) => self.mark(text, span),
            None => text,
        };
        self.check_yaml.push(text);
        self.checks.insert(key, name.clone());
        Some(name)
    }

    fn script_check(&mut self, name: &str, key: &str, weight: i64) -> Option<String> {
        let script = self.scripts.get(key)?;
        let (pos, argv, command_pos) = (script.pos, script.argv.clone(), script.command_pos);
        let interval = script.interval;
        let timeout = script.timeout;
        let (rise, fall, init_fail) = (script.rise, script.fall, script.init_fail);
        if argv.is_empty() {
            return None;
        }
        let mut out = format!("  # from {} (vrrp_script {key})\n", self.at(pos));
        let idiom = recognise(&argv);
        let mut body = String::new();
        let mut timed = false;
        match &idiom {
            Idiom::Process {
                name: process,
                note,
            } => {
                let _ = writeln!(
                    out,
                    "  # was the script `{}`: a built-in process check, watched by event",
                    argv.join(" ")
                );
                if let Some(note) = note {
                    self.report
                        .approximated(pos, format!("vrrp_script {key}: {note}"));
                }
                self.report.note(
                    pos,
                    format!(
                        "vrrp_script {key} (`{}`) becomes a process check",
                        argv.join(" ")
                    ),
                );
                let _ = writeln!(body, "    process: {}", yaml_str(process));
                if rise.unwrap_or(1) != 1 || fall.unwrap_or(1) != 1 {
                    self.report.approximated(pos, format!("vrrp_script {key}: rise/fall are dropped, a process check reports each change at once"));
                }
            }
            Idiom::Http {
                address,
                port,
                path,
                note,
            } => {
                let _ = writeln!(
                    out,
                    "  # was the script `{}`: a built-in http check",
                    argv.join(" ")
                );
                if let Some(note) = note {
                    self.report
                        .approximated(pos, format!("vrrp_script {key}: {note}"));
                }
                let _ = writeln!(
                    body,
                    "    http: {{address: {}, port: {port}, path: {}}}",
                    yaml_str(&address.to_string()),
                    yaml_str(path)
                );
                timed = true;
            }
            Idiom::Tcp {
                address,
                port,
                note,
            } => {
                let _ = writeln!(
                    out,
                    "  # was the script `{}`: a built-in tcp check",
                    argv.join(" ")
                );
                if let Some(note) = note {
                    self.report
                        .approximated(pos, format!("vrrp_script {key}: {note}"));
                } else {
                    self.report.note(
                        pos,
                        format!(
                            "vrrp_script {key} (`{}`) becomes a tcp check",
                            argv.join(" ")
                        ),
                    );
                }
                let _ = writeln!(
                    body,
                    "    tcp: {{address: {}, port: {port}}}",
                    yaml_str(&address.to_string())
                );
                timed = true;
            }
            Idiom::Script => {
                let argv = self.absolute(argv.clone(), command_pos);
                let _ = writeln!(body, "    script: {}", yaml_command(&argv));
                timed = true;
            }
        }
        if timed {
            if let Some(i) = interval {
                let _ = writeln!(
                    body,
                    "    interval: {}",
                    self.duration(pos, i, Duration::from_millis(10), "interval")
                );
            }
            if let Some(t) = timeout {
                let t = if t == 0.0 { interval.unwrap_or(1.0) } else { t };
                let _ = writeln!(
                    body,
                    "    timeout: {}",
                    self.duration(pos, t, Duration::from_millis(10), "timeout")
                );
            }
            for (k, v) in [("rise", rise), ("fall", fall)] {
                if let Some(v) = v {
                    let clamped = v.clamp(1, 100);
                    if clamped != v {
                        self.report.approximated(pos, format!("vrrp_script {key}: {k} {v} is written as {clamped}, floatip's limit"));
                    }
                    let _ = writeln!(body, "    {k}: {clamped}");
                }
            }
            // keepalived counts a script as up until it fails, unless init_fail.
            let _ = writeln!(
                body,
                "    initial: {}",
                if init_fail { "down" } else { "up" }
            );
        }
        let _ = writeln!(out, "  - name: {}", yaml_str(name));
        out.push_str(&body);
        let _ = writeln!(out, "    weight: {weight}");
        Some(out)
    }

    fn file_check(&mut self, name: &str, key: &str, weight: i64) -> Option<String> {
        let file = self.files.get(key)?;
        let path = file.file.clone()?;
        let pos = file.pos;
        if !path.starts_with('/') {
            self.report.error(
                pos,
                format!("track_file {key}: `{path}` is not an absolute path"),
                Some("write the full path".to_owned()),
            );
            return None;
        }
        Some(format!(
            "  # from {} (track_file {key})\n  - name: {}\n    file: {}\n    weight: {weight}\n",
            self.at(pos),
            yaml_str(name),
            yaml_str(&path)
        ))
    }

    fn process_check(&mut self, name: &str, key: &str, weight: i64) -> Option<String> {
        let process = self.processes.get(key)?;
        let (pos, pname, quorum, delay) = (
            process.pos,
            process.process.clone()?,
            process.quorum,
            process.delay,
        );
        let mut out = format!(
            "  # from {} (vrrp_track_process {key})\n  - name: {}\n",
            self.at(pos),
            yaml_str(name)
        );
        let short: String = pname
            .rsplit('/')
            .next()
            .unwrap_or(&pname)
            .chars()
            .take(15)
            .collect();
        if short != pname {
            self.report.approximated(
                pos,
                format!(
                    "vrrp_track_process {key}: `{pname}` is matched as `{short}` (/proc/PID/comm)"
                ),
            );
        }
        let mut fields = vec![format!("name: {}", yaml_str(&short))];
        if quorum != 1 {
            fields.push(format!("min: {quorum}"));
        }
        if let Some(d) = delay {
            fields.push(format!(
                "delay: {}",
                self.duration(pos, d, Duration::from_millis(1), "delay")
            ));
        }
        let _ = writeln!(out, "    process: {{{}}}", fields.join(", "));
        let _ = writeln!(out, "    weight: {weight}");
        Some(out)
    }

    /// Seconds as a duration, rounded to `step` (with a report item when rounded).
    fn duration(&mut self, pos: Pos, seconds: f64, step: Duration, what: &str) -> String {
        let nanos = (seconds * 1e9).round() as u128;
        let step_n = step.as_nanos().max(1);
        let rounded = ((nanos + step_n / 2) / step_n * step_n).max(step_n);
        if rounded != nanos {
            self.report.approximated(
                pos,
                format!(
                    "{what} {seconds}s is written as {} (floatip's resolution)",
                    format_duration(Duration::from_nanos(rounded as u64))
                ),
            );
        }
        format_duration(Duration::from_nanos(rounded as u64))
    }

    /// `# approximated:` / `# left out:` comments for the report items inside `span`,
    /// inserted before the entry's `- name:` line.
    fn mark(&self, text: String, span: Span) -> String {
        let mut comments = String::new();
        let mut items: Vec<&super::report::Item> = self
            .report
            .items
            .iter()
            .filter(|i| i.kind != Kind::Note && span.contains(i.diag.pos))
            .collect();
        items.sort_by_key(|i| i.diag.pos);
        items.dedup_by(|a, b| a.diag == b.diag);
        for item in items {
            let label = match item.kind {
                Kind::LeftOut => "left out",
                _ => "approximated",
            };
            let _ = writeln!(
                comments,
                "  # {label} ({}): {}",
                self.at(item.diag.pos),
                item.diag.message
            );
        }
        match text.find("  - name: ") {
            Some(at) if !comments.is_empty() => {
                format!("{}{comments}{}", &text[..at], &text[at..])
            }
            _ => text,
        }
    }

    // ----- output -----------------------------------------------------------------------

    fn emit(&mut self) -> Option<String> {
        let mut routers = String::new();
        let instances = std::mem::take(&mut self.instances);
        let groups = std::mem::take(&mut self.groups);
        // Where the entries' own comments go; everything else goes to the header.
        let mut spans: Vec<Span> = instances.iter().map(|i| i.span).collect();
        spans.extend(groups.iter().map(|g| g.span));
        spans.extend(self.scripts.values().map(|x| x.span));
        spans.extend(self.files.values().map(|x| x.span));
        spans.extend(self.processes.values().map(|x| x.span));
        // Which group each instance is in, and whether its weights count.
        let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
        for (gi, group) in groups.iter().enumerate() {
            for member in &group.members {
                group_of.entry(member.text.clone()).or_insert(gi);
            }
        }
        let mut written: Vec<String> = Vec::new();
        let mut seen_names: Vec<String> = Vec::new();
        for mut inst in instances {
            let in_group_without_weights = group_of
                .get(&inst.keepalived_name)
                .is_some_and(|gi| !groups[*gi].keep_weights);
            if seen_names.contains(&inst.name) {
                self.report.error(
                    inst.node_pos,
                    format!("vrrp_instance `{}` is defined twice", inst.keepalived_name),
                    None,
                );
                continue;
            }
            seen_names.push(inst.name.clone());
            if let Some(text) = self.router(&mut inst, in_group_without_weights) {
                routers.push_str(&text);
                written.push(inst.keepalived_name.clone());
            }
        }
        let mut sync = String::new();
        for group in &groups {
            let members: Vec<String> = group
                .members
                .iter()
                .filter_map(|m| {
                    if written.contains(&m.text) {
                        Some(sanitize_name(&m.text))
                    } else {
                        self.report.left_out(
                            m.pos,
                            format!(
                                "sync group {} member `{}` is not a translated vrrp_instance",
                                group.name, m.text
                            ),
                            "keepalived ignores unknown members; fix the name or the instance",
                        );
                        None
                    }
                })
                .collect();
            if members.is_empty() {
                self.report.left_out(
                    group.pos,
                    format!("sync group {} has no translated member", group.name),
                    "nothing to synchronise",
                );
                continue;
            }
            let track: Vec<String> = group
                .tracks
                .iter()
                .filter_map(|t| self.check_for(t, false, false))
                .collect();
            let mut entry = String::new();
            let _ = writeln!(
                entry,
                "  # from {} (vrrp_sync_group {})",
                self.at(group.pos),
                group.name
            );
            let _ = writeln!(entry, "  - name: {}", yaml_str(&group.name));
            let _ = writeln!(
                entry,
                "    routers: [{}]",
                members
                    .iter()
                    .map(|m| yaml_str(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !track.is_empty() {
                let _ = writeln!(
                    entry,
                    "    track: [{}]",
                    track
                        .iter()
                        .map(|m| yaml_str(m))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            entry.push_str(&notify_yaml(&group.notify, "    "));
            sync.push_str(&self.mark(entry, group.span));
            self.report.sync_groups += 1;
        }
        self.report.checks = self.check_yaml.len();
        if routers.is_empty() {
            return None;
        }
        let mut out = String::new();
        out.push_str("# floatip configuration translated from keepalived by `floatip import`.\n");
        out.push_str("# Review every `left out` and `approximated` comment and the import report, then run\n");
        out.push_str("# `floatip check` on this file on the target host.\n");
        if let Some(id) = &self.globals.router_id {
            let _ = writeln!(
                out,
                "# keepalived router_id {id}: no equivalent (floatip logs the host name)."
            );
        }
        if self.globals.garp.master_delay.is_none()
            && self.globals.garp.master_repeat.is_none()
            && self.globals.garp.master_refresh.is_none()
        {
            out.push_str("# Gratuitous ARP / NA: floatip's defaults (3 frames, again after 2s, refreshed every\n");
            out.push_str("# 60s) replace keepalived's (5 frames, again after 5s, no refresh).\n");
        }
        out.push('\n');
        if let Some((user, pos)) = &self.globals.script_user {
            let _ = writeln!(
                out,
                "global:\n  # from {} (script_user)\n  script_user: {}\n",
                self.at(*pos),
                yaml_str(user)
            );
        }
        let mut elsewhere: Vec<&super::report::Item> = self
            .report
            .items
            .iter()
            .filter(|i| i.kind != Kind::Note && !spans.iter().any(|s| s.contains(i.diag.pos)))
            .collect();
        elsewhere.sort_by_key(|i| i.diag.pos);
        if !elsewhere.is_empty() {
            out.push_str("# Not carried over or approximated outside the entries below:\n");
            for item in elsewhere {
                let label = match item.kind {
                    Kind::LeftOut => "left out",
                    _ => "approximated",
                };
                let _ = writeln!(
                    out,
                    "#   {label} ({}): {}",
                    self.at(item.diag.pos),
                    item.diag.message
                );
            }
            out.push('\n');
        }
        out.push_str("routers:\n");
        out.push_str(&routers);
        if !sync.is_empty() {
            out.push_str("\nsync_groups:\n");
            out.push_str(&sync);
        }
        if !self.check_yaml.is_empty() {
            out.push_str("\nchecks:\n");
            for check in &self.check_yaml {
                out.push_str(check);
            }
        }
        let runs_programs = self.check_yaml.iter().any(|c| c.contains("\n    script: "))
            || out.contains("\n    notify:\n");
        if self.globals.script_user.is_none() && runs_programs {
            self.report.note(
                Pos::new(0, 0, 0),
                "keepalived ran scripts as keepalived_script (or root); floatip runs them as the `floatip` user: make sure it may run them",
            );
        }
        Some(out)
    }

    fn router(&mut self, inst: &mut Instance, in_group_without_weights: bool) -> Option<String> {
        let pos = inst.node_pos;
        let origin = format!("vrrp_instance {}", inst.keepalived_name);
        let vrid = inst.vrid?;
        let interface = match (
            &inst.interface,
            inst.addresses.iter().find_map(|a| a.1.clone()),
        ) {
            (Some(i), _) => i.clone(),
            (None, Some(dev)) => {
                self.report.approximated(pos, format!("{origin} has no interface: it runs on `{dev}`, the device of its first address"));
                dev
            }
            (None, None) => {
                self.report.left_out(
                    pos,
                    format!("{origin} has no interface and is not carried over"),
                    "add `interface IFACE` (floatip needs one)",
                );
                return None;
            }
        };
        if inst.addresses.is_empty() {
            self.report.left_out(
                pos,
                format!("{origin} has no virtual_ipaddress and is not carried over"),
                "floatip routers need at least one address",
            );
            return None;
        }
        // The family is the first address's; keepalived drops others (it logs them).
        let family_v6 = |a: &str| a.contains(':');
        let first_v6 = family_v6(&inst.addresses[0].0);
        let mut kept = Vec::new();
        for a in std::mem::take(&mut inst.addresses) {
            if family_v6(&a.0) == first_v6 {
                kept.push(a);
            } else {
                self.report.left_out(pos, format!("{origin}: address {} is of the other family and is not carried over", a.0), "put it in a second vrrp_instance (one family per router), both in one sync group");
            }
        }
        inst.addresses = kept;
        let global_version = self.globals.version.map(|v| v.0);
        let (version, version_why) = match (inst.version, first_v6) {
            (_, true) => (3, "IPv6 is always VRRPv3"),
            (Some((v, _)), false) => (v, "from `version`"),
            (None, false) => match global_version {
                Some(v) => (v, "from global vrrp_version"),
                None => (2, "keepalived's default (vrrp_version 2)"),
            },
        };
        let mut lines = String::new();
        let mut comment = |s: String| {
            let _ = writeln!(lines, "  # {s}");
        };
        comment(format!("from {} ({origin})", self.at(pos)));
        for c in &inst.comments {
            comment(c.clone());
        }
        // state, nopreempt, preempt_delay.
        let mut preempt = true;
        let mut preempt_delay = inst.preempt_delay;
        if let Some(state_pos) = inst.state_master {
            if inst.priority == 255 {
                comment(
                    "state MASTER with priority 255: becomes master at once, as in floatip".into(),
                );
                self.report.note(state_pos, "state MASTER with priority 255: the owner becomes master at once, as floatip does");
            } else {
                comment("state MASTER: keepalived 2.2 starts it as backup too (not the owner); priority decides".into());
                self.report.note(state_pos, "state MASTER (not the address owner): keepalived 2.2 starts it as backup and lets priority decide; so does floatip");
            }
            if let Some(np) = inst.nopreempt {
                comment("nopreempt has no effect with state MASTER (keepalived clears it), so preempt stays on".into());
                self.report.note(
                    np,
                    "nopreempt with state MASTER: keepalived 2.2 clears nopreempt (\"nopreempt will not work with initial state MASTER\"), so this router preempts; the translation keeps that. To get nopreempt, use state BACKUP on every host",
                );
            }
            if let Some((_, dp)) = preempt_delay.take() {
                self.report.note(dp, "preempt_delay with state MASTER: keepalived 2.2 clears it, so the translation has none");
            }
        } else if let Some(np) = inst.nopreempt {
            if inst.priority == 255 {
                self.report.note(np, "nopreempt with priority 255: keepalived resets it (the owner always preempts), as floatip does");
            } else {
                preempt = false;
                if let Some((_, dp)) = preempt_delay.take() {
                    self.report.note(dp, "preempt_delay with nopreempt: keepalived resets it, so the translation has none");
                }
            }
        }
        if self.globals.strict.is_some()
            && let Some((_, dp)) = preempt_delay.take()
        {
            self.report
                .note(dp, "preempt_delay under vrrp_strict: keepalived resets it");
        }
        let _ = writeln!(lines, "  - name: {}", yaml_str(&inst.name));
        let _ = writeln!(lines, "    interface: {}", yaml_str(&interface));
        let _ = writeln!(lines, "    vrid: {vrid}");
        let _ = writeln!(lines, "    version: {version}  # {version_why}");
        if inst.priority != 100 {
            let _ = writeln!(lines, "    priority: {}", inst.priority);
        }
        if let Some((seconds, apos)) = inst.advert_int {
            let interval = if version == 2 {
                let whole = seconds.round().max(1.0);
                if whole != seconds {
                    self.report.approximated(apos, format!("advert_int {seconds} with VRRPv2 is written as {whole}s (VRRPv2 counts whole seconds)"));
                }
                format_duration(Duration::from_secs(whole as u64))
            } else {
                self.duration(
                    apos,
                    seconds.max(0.01),
                    Duration::from_millis(10),
                    "advert_int",
                )
            };
            let _ = writeln!(lines, "    advert_interval: {interval}");
        }
        if !preempt {
            let _ = writeln!(lines, "    preempt: false  # nopreempt");
        }
        if let Some((d, dpos)) = preempt_delay {
            let text = self.duration(dpos, d, Duration::from_millis(1), "preempt_delay");
            let _ = writeln!(lines, "    preempt_delay: {text}");
        }
        let accept = match (inst.accept, self.globals.strict) {
            (Some(a), _) => a,
            (None, Some(spos)) => {
                self.report.left_out(
                    spos,
                    "vrrp_strict is not carried over beyond its no_accept (written as `accept_mode: false`)",
                    "floatip follows RFC 9568 on the wire; its other strict rules (no authentication, no unicast) are for you to keep",
                );
                false
            }
            (None, None) => true,
        };
        if !accept {
            let _ = writeln!(lines, "    accept_mode: false");
        }
        if let Some((password, ppos)) = &inst.password {
            if version == 2 {
                let bytes: String = password.chars().take(8).collect();
                if bytes.len() != password.len() {
                    self.report.approximated(*ppos, "auth_pass longer than 8 characters: keepalived uses the first 8, and so does the translation");
                }
                let bytes: String = truncate_bytes(&bytes, 8);
                let _ = writeln!(lines, "    password: {}", yaml_quoted(&bytes));
            } else {
                self.report.note(*ppos, "authentication with VRRPv3: keepalived ignores it (VRRPv3 has none), so does the translation");
            }
        }
        let _ = writeln!(lines, "    addresses:");
        for (address, device, label) in &inst.addresses {
            if device.is_none() && label.is_none() {
                let _ = writeln!(lines, "      - {}", yaml_str(address));
            } else {
                let _ = writeln!(lines, "      - address: {}", yaml_str(address));
                if let Some(d) = device {
                    let _ = writeln!(lines, "        device: {}", yaml_str(d));
                }
                if let Some(l) = label {
                    let _ = writeln!(lines, "        label: {}", yaml_str(l));
                }
            }
        }
        if !inst.unicast_peers.is_empty() {
            let _ = writeln!(lines, "    unicast:");
            if let Some(src) = &inst.unicast_src {
                let _ = writeln!(lines, "      source: {}", yaml_str(src));
            }
            let _ = writeln!(
                lines,
                "      peers: [{}]",
                inst.unicast_peers
                    .iter()
                    .map(|p| yaml_str(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        } else if inst.unicast_src.is_some() {
            self.report.note(pos, format!("{origin}: unicast_src_ip without unicast_peer: keepalived stays in multicast mode, so does the translation"));
        }
        // Announce: the instance's setting, else the global default.
        let g = self.globals.garp.clone();
        let garp = Garp {
            master_delay: inst.garp.master_delay.or(g.master_delay),
            master_repeat: inst.garp.master_repeat.or(g.master_repeat),
            master_refresh: inst.garp.master_refresh.or(g.master_refresh),
            interval: inst.garp.interval.or(g.interval),
            gna_interval: inst.garp.gna_interval.or(g.gna_interval),
        };
        let mut announce = Vec::new();
        if let Some((n, _)) = garp.master_repeat {
            announce.push(format!("burst: {n}"));
        }
        let spacing = if first_v6 {
            garp.gna_interval
        } else {
            garp.interval
        };
        if let Some((s, spos)) = spacing {
            announce.push(format!(
                "burst_interval: {}",
                self.duration(spos, s, Duration::from_millis(1), "garp_interval")
            ));
        }
        if let Some((s, spos)) = garp.master_delay {
            let v = if s == 0.0 {
                "off".to_owned()
            } else {
                self.duration(
                    spos,
                    s.max(0.01),
                    Duration::from_millis(10),
                    "garp_master_delay",
                )
            };
            announce.push(format!("repeat_after: {v}"));
        }
        if let Some((s, spos)) = garp.master_refresh {
            let v = if s == 0.0 {
                "off".to_owned()
            } else {
                self.duration(
                    spos,
                    s.max(1.0),
                    Duration::from_secs(1),
                    "garp_master_refresh",
                )
            };
            announce.push(format!("refresh_every: {v}"));
        }
        if !announce.is_empty() {
            let _ = writeln!(lines, "    announce: {{{}}}", announce.join(", "));
        }
        let owner = inst.priority == 255;
        let tracks = std::mem::take(&mut inst.tracks);
        let names: Vec<String> = tracks
            .iter()
            .filter_map(|t| self.check_for(t, in_group_without_weights, owner))
            .collect();
        if !names.is_empty() {
            let _ = writeln!(
                lines,
                "    track: [{}]",
                names
                    .iter()
                    .map(|m| yaml_str(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        lines.push_str(&notify_yaml(&inst.notify, "    "));
        self.report.routers += 1;
        Some(self.mark(lines, inst.span))
    }
}

fn notify_yaml(notify: &Notify, indent: &str) -> String {
    let mut out = String::new();
    let entries = [
        ("command", &notify.command),
        ("master", &notify.master),
        ("backup", &notify.backup),
        ("fault", &notify.fault),
        ("stop", &notify.stop),
    ];
    if entries.iter().all(|(_, v)| v.is_none()) {
        return out;
    }
    let _ = writeln!(out, "{indent}notify:");
    for (key, value) in entries {
        if let Some(argv) = value {
            let _ = writeln!(out, "{indent}  {key}: {}", yaml_command(argv));
        }
    }
    out
}

/// A command as YAML: a plain line when no argument has spaces, else a list.
fn yaml_command(argv: &[String]) -> String {
    if argv
        .iter()
        .all(|a| !a.is_empty() && !a.contains(char::is_whitespace))
    {
        yaml_quoted_if_needed(&argv.join(" "))
    } else {
        format!(
            "[{}]",
            argv.iter()
                .map(|a| yaml_quoted(a))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn yaml_quoted_if_needed(s: &str) -> String {
    if s.contains(": ")
        || s.contains(" #")
        || s.starts_with([
            '-', '[', '{', '!', '&', '*', '"', '\'', '|', '>', '%', '@', '`', '?', ':', '#',
        ])
    {
        yaml_quoted(s)
    } else {
        s.to_owned()
    }
}

/// A scalar: plain when it cannot be misread, else double-quoted.
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        && !s.starts_with(['-', '.'])
        && s.parse::<f64>().is_err()
        && !s.chars().all(|c| c.is_ascii_digit())
        && ![
            "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
        ]
        .contains(&s.to_ascii_lowercase().as_str());
    if plain { s.to_owned() } else { yaml_quoted(s) }
}

/// Always double-quoted (JSON escapes are valid YAML).
fn yaml_quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn truncate_bytes(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A floatip name: letters, digits, `-`, `_`, `.`, 1 to 64 characters.
pub fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Split a command line as keepalived does: on whitespace, single or double quotes keep
/// spaces.
pub fn split_command(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::lexer::NoFiles;
    use super::super::{Kind, Options, Outcome, import_text};

    fn run(text: &str) -> (String, super::super::Imported) {
        let imported = import_text(&NoFiles, "k.conf", text, &Options::default());
        (imported.yaml.clone().unwrap_or_default(), imported)
    }

    const INSTANCE: &str = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n";

    #[test]
    fn one_script_at_two_weights_is_two_checks() {
        let text = format!(
            "vrrp_script s {{\n script /bin/true\n weight -10\n}}\n{INSTANCE} track_script {{ s }}\n}}\n\
             vrrp_instance B {{\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {{ 192.0.2.2 }}\n track_script {{\n  s weight 5\n }}\n}}\n"
        );
        let (yaml, imported) = run(&text);
        assert_eq!(
            imported.outcome(),
            Outcome::Full,
            "{}",
            imported.render_report()
        );
        assert!(
            yaml.contains("track: [s]\n") && yaml.contains("track: [s.weight5]\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("weight: -10") && yaml.contains("weight: 5"),
            "{yaml}"
        );
    }

    #[test]
    fn names_of_different_kinds_do_not_collide() {
        let text = format!(
            "vrrp_script haproxy {{\n script /usr/local/bin/chk\n}}\nvrrp_track_process haproxy {{\n process haproxy\n weight 0\n}}\n\
             {INSTANCE} track_script {{ haproxy }}\n track_process {{ haproxy }}\n}}\n"
        );
        let (yaml, imported) = run(&text);
        assert_eq!(
            imported.outcome(),
            Outcome::Full,
            "{}",
            imported.render_report()
        );
        assert!(
            yaml.contains("- name: haproxy\n") && yaml.contains("- name: haproxy.weight0\n"),
            "{yaml}"
        );
    }

    #[test]
    fn intervals_are_rounded_to_what_the_version_carries() {
        let (yaml, imported) = run(&format!("{INSTANCE} advert_int 1.5\n}}\n"));
        assert!(yaml.contains("advert_interval: 2s"), "{yaml}");
        assert!(
            imported
                .report
                .items
                .iter()
                .any(|i| i.kind == Kind::Approximated)
        );
        let (yaml, _) = run(&format!("{INSTANCE} version 3\n advert_int 0.123\n}}\n"));
        assert!(yaml.contains("advert_interval: 120ms"), "{yaml}");
        let (yaml, _) = run(&format!("{INSTANCE} version 3\n advert_int 0.25\n}}\n"));
        assert!(yaml.contains("advert_interval: 250ms"), "{yaml}");
    }

    #[test]
    fn weights_follow_keepalived_defaults() {
        // A script without weight: 0 (Fault); a file: 1; an interface: 0.
        let text = format!(
            "vrrp_script s {{\n script /bin/true\n}}\ntrack_file f {{\n file /run/x\n}}\n\
             {INSTANCE} track_script {{ s }}\n track_file {{ f }}\n track_interface {{ eth1 }}\n}}\n"
        );
        let (yaml, imported) = run(&text);
        assert_eq!(
            imported.outcome(),
            Outcome::Full,
            "{}",
            imported.render_report()
        );
        let weights: Vec<&str> = yaml
            .lines()
            .filter(|l| l.trim_start().starts_with("weight:"))
            .collect();
        assert_eq!(
            weights,
            ["    weight: 0", "    weight: 1", "    weight: 0"],
            "{yaml}"
        );
    }

    #[test]
    fn an_unknown_state_is_backup_and_said() {
        let (_, imported) = run(&format!("{INSTANCE} state master\n}}\n"));
        assert_eq!(imported.outcome(), Outcome::Full);
        assert!(
            imported
                .render_report()
                .contains("neither MASTER nor BACKUP")
        );
    }
}

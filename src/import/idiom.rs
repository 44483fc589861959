//! The check idioms of keepalived configurations, recognised in a `vrrp_script` command
//! and turned into floatip's built-in checks.
//!
//! Owns the recognition only: `killall -0 X`, `pidof X`, `pgrep [-x] X`,
//! `systemctl is-active X` -> process; `curl -f URL`, `wget URL` -> http; `nc -z A P` and
//! bash's `</dev/tcp/A/P` -> tcp. Anything it is not sure of stays a script. Must not run
//! anything or resolve names (only IP literals and `localhost` are recognised).

use std::net::{IpAddr, Ipv4Addr};

/// What a script command is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idiom {
    Process {
        name: String,
        /// How the built-in check differs, when it does.
        note: Option<String>,
    },
    Http {
        address: IpAddr,
        port: u16,
        path: String,
        note: Option<String>,
    },
    Tcp {
        address: IpAddr,
        port: u16,
        note: Option<String>,
    },
    Script,
}

/// Recognise an argument vector (the program as keepalived would run it).
pub fn recognise(argv: &[String]) -> Idiom {
    let Some(program) = argv.first() else {
        return Idiom::Script;
    };
    if let Some(target) = program.strip_prefix("</dev/tcp/")
        && argv.len() == 1
    {
        return match dev_tcp(target) {
            Idiom::Tcp { address, port, .. } => Idiom::Tcp {
                address,
                port,
                note: Some("bash's `</dev/tcp/...` needs a shell, and keepalived 2.2 runs scripts without one, so this check always failed there; the tcp check does what it meant".to_owned()),
            },
            other => other,
        };
    }
    let base = program.rsplit('/').next().unwrap_or(program);
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    match base {
        "sh" | "bash" | "dash" if args.len() == 2 && args[0] == "-c" => {
            let inner = args[1].trim();
            if let Some(target) = inner.strip_prefix("</dev/tcp/") {
                return dev_tcp(target);
            }
            if inner.contains(['|', '&', ';', '>', '<', '`', '$', '(']) {
                return Idiom::Script;
            }
            let words: Vec<String> = inner.split_whitespace().map(str::to_owned).collect();
            recognise(&words)
        }
        "killall" => {
            let (options, names) = split_options(&args);
            if options.contains(&"-0")
                && names.len() == 1
                && options.iter().all(|o| ["-0", "-q", "--quiet"].contains(o))
            {
                Idiom::Process {
                    name: names[0].to_owned(),
                    note: None,
                }
            } else {
                Idiom::Script
            }
        }
        "pidof" => {
            let (options, names) = split_options(&args);
            if names.len() == 1 && options.iter().all(|o| ["-s", "-x"].contains(o)) {
                Idiom::Process {
                    name: names[0].to_owned(),
                    note: None,
                }
            } else {
                Idiom::Script
            }
        }
        "pgrep" => {
            let (options, names) = split_options(&args);
            let exact = options.contains(&"-x");
            if names.len() == 1
                && options.iter().all(|o| ["-x", "-q", "-c"].contains(o))
                && names[0]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                Idiom::Process {
                    name: names[0].to_owned(),
                    note: (!exact).then(|| {
                        format!(
                            "`pgrep {0}` also matched names containing `{0}`; the process check matches the name exactly",
                            names[0]
                        )
                    }),
                }
            } else {
                Idiom::Script
            }
        }
        "systemctl" => {
            let (options, names) = split_options(&args);
            if names.len() == 2
                && names[0] == "is-active"
                && options.iter().all(|o| ["-q", "--quiet"].contains(o))
            {
                let unit = names[1].trim_end_matches(".service");
                Idiom::Process {
                    name: unit.to_owned(),
                    note: Some(format!(
                        "`systemctl is-active {}` asked systemd about the unit; the process check looks for a process named `{unit}` (edit `name` if the unit's main process is called otherwise)",
                        names[1]
                    )),
                }
            } else {
                Idiom::Script
            }
        }
        "curl" => curl(&args),
        "wget" => wget(&args),
        "nc" | "ncat" | "netcat" => nc(&args),
        _ => Idiom::Script,
    }
}

fn split_options<'a>(args: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    args.iter().partition(|a| a.starts_with('-') && a.len() > 1)
}

fn dev_tcp(target: &str) -> Idiom {
    let mut parts = target.splitn(2, '/');
    let (Some(host), Some(port)) = (parts.next(), parts.next()) else {
        return Idiom::Script;
    };
    match (host_address(host), port.trim().parse::<u16>()) {
        (Some((address, note)), Ok(port)) if port > 0 => Idiom::Tcp {
            address,
            port,
            note,
        },
        _ => Idiom::Script,
    }
}

/// An IP literal, or `localhost` as 127.0.0.1 (with a note).
fn host_address(host: &str) -> Option<(IpAddr, Option<String>)> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" {
        return Some((
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some("`localhost` is written as 127.0.0.1 (the check resolves no names)".to_owned()),
        ));
    }
    host.parse().ok().map(|a| (a, None))
}

/// `http://HOST[:PORT][/PATH]` -> address, port, path.
fn http_url(url: &str) -> Option<(IpAddr, u16, String, Option<String>)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => 80,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (authority, 80),
        }
    };
    if port == 0 || path.contains(char::is_whitespace) {
        return None;
    }
    let (address, note) = host_address(host)?;
    Some((address, port, path, note))
}

fn curl(args: &[&str]) -> Idiom {
    let mut fail = false;
    let mut url = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        match a {
            "--fail" => fail = true,
            "--silent" | "--show-error" | "--location" => {}
            "-o" | "--output" | "-m" | "--max-time" | "--connect-timeout" => i += 1,
            _ if a.starts_with("--") => return Idiom::Script,
            _ if a.starts_with('-') => {
                for flag in a[1..].chars() {
                    match flag {
                        'f' => fail = true,
                        's' | 'S' | 'L' => {}
                        'o' | 'm' if a.ends_with(flag) => i += 1,
                        _ => return Idiom::Script,
                    }
                }
            }
            _ if url.is_none() => url = Some(a),
            _ => return Idiom::Script,
        }
        i += 1;
    }
    if !fail {
        // Without -f curl succeeds on any answer, even 500: nothing to map to.
        return Idiom::Script;
    }
    match url.and_then(http_url) {
        Some((address, port, path, note)) => Idiom::Http {
            address,
            port,
            path,
            note: Some(join_notes(
                "`curl -f` passed on any status below 400; the http check passes on status 200 only (set `expect` if the page answers otherwise)",
                note,
            )),
        },
        None => Idiom::Script,
    }
}

fn wget(args: &[&str]) -> Idiom {
    let mut url = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        match a {
            "-q" | "--quiet" | "--spider" | "-O-" | "-nv" => {}
            "-O" | "-T" | "-t" => i += 1,
            _ if a.starts_with("--timeout=")
                || a.starts_with("--tries=")
                || a.starts_with("-O") => {}
            _ if a.starts_with('-') => return Idiom::Script,
            _ if url.is_none() => url = Some(a),
            _ => return Idiom::Script,
        }
        i += 1;
    }
    match url.and_then(http_url) {
        Some((address, port, path, note)) => Idiom::Http {
            address,
            port,
            path,
            note: Some(join_notes(
                "`wget` passed on any status below 400 (following redirects); the http check passes on status 200 only (set `expect` if the page answers otherwise)",
                note,
            )),
        },
        None => Idiom::Script,
    }
}

fn nc(args: &[&str]) -> Idiom {
    let mut zero_io = false;
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a == "-w" {
            i += 2;
            continue;
        }
        if let Some(flags) = a.strip_prefix('-') {
            if flags.chars().all(|c| "zvn".contains(c)) {
                zero_io |= flags.contains('z');
            } else if let Some(w) = flags.strip_prefix('w')
                && w.parse::<u32>().is_ok()
            {
            } else {
                return Idiom::Script;
            }
        } else {
            rest.push(a);
        }
        i += 1;
    }
    if !zero_io || rest.len() != 2 {
        return Idiom::Script;
    }
    match (host_address(rest[0]), rest[1].parse::<u16>()) {
        (Some((address, note)), Ok(port)) if port > 0 => Idiom::Tcp {
            address,
            port,
            note,
        },
        _ => Idiom::Script,
    }
}

fn join_notes(first: &str, second: Option<String>) -> String {
    match second {
        Some(second) => format!("{first}; {second}"),
        None => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(line: &str) -> Idiom {
        recognise(
            &line
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    }

    fn process(name: &str) -> bool {
        matches!(r(name), Idiom::Process { .. })
    }

    #[test]
    fn process_idioms() {
        assert!(process("killall -0 haproxy"));
        assert!(process("/usr/bin/killall -0 haproxy"));
        assert!(process("pidof haproxy"));
        assert!(matches!(
            r("pgrep -x haproxy"),
            Idiom::Process { note: None, .. }
        ));
        assert!(matches!(
            r("pgrep haproxy"),
            Idiom::Process { note: Some(_), .. }
        ));
        assert!(process("systemctl is-active --quiet haproxy.service"));
        assert_eq!(r("killall haproxy"), Idiom::Script);
        assert_eq!(r("pgrep -f haproxy"), Idiom::Script);
        assert_eq!(r("pidof haproxy nginx"), Idiom::Script);
    }

    #[test]
    fn http_and_tcp_idioms() {
        match r("curl -sf http://127.0.0.1:8404/healthz") {
            Idiom::Http { port, path, .. } => assert_eq!((port, path.as_str()), (8404, "/healthz")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r("wget -q -O /dev/null http://[::1]/"),
            Idiom::Http { port: 80, .. }
        ));
        assert_eq!(r("curl http://127.0.0.1/"), Idiom::Script);
        assert_eq!(r("curl -f https://127.0.0.1/"), Idiom::Script);
        assert_eq!(r("curl -f http://backend.example/"), Idiom::Script);
        assert!(matches!(
            r("nc -z -w 1 127.0.0.1 80"),
            Idiom::Tcp { port: 80, .. }
        ));
        assert!(matches!(
            r("nc -zv localhost 443"),
            Idiom::Tcp { port: 443, .. }
        ));
        let bash = vec![
            "/bin/bash".to_owned(),
            "-c".to_owned(),
            "</dev/tcp/127.0.0.1/80".to_owned(),
        ];
        assert!(matches!(recognise(&bash), Idiom::Tcp { port: 80, .. }));
        let bare = vec!["</dev/tcp/127.0.0.1/25".to_owned()];
        assert!(matches!(
            recognise(&bare),
            Idiom::Tcp {
                port: 25,
                note: Some(_),
                ..
            }
        ));
        let piped = vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "ps aux | grep haproxy".to_owned(),
        ];
        assert_eq!(recognise(&piped), Idiom::Script);
    }
}

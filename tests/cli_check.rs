//! The `floatip` binary's offline subcommands, run as a process: `check` on good, bad and
//! missing files (exit codes, the exact `FILE:LINE:COL:` of each error, the caret and
//! the help line), `check` as an unprivileged user in an empty network namespace,
//! `version`, and `run` on a missing file (66, EX_NOINPUT; an invalid file is 78).
//!
//! The unprivileged case needs root (to drop to uid 65534 and to make the namespace);
//! without root it fails, saying so, rather than skipping. The other tests run as anyone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// sysexits.h EX_CONFIG.
const EXIT_CONFIG: i32 = 78;
/// sysexits EX_NOINPUT: the file cannot be read.
const EXIT_NOINPUT: i32 = 66;

const BIN: &str = env!("CARGO_BIN_EXE_floatip");

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/examples/floatip.yaml")
}

/// A fresh directory of this test under `CARGO_TARGET_TMPDIR`.
fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_check")
        .join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn floatip(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN} {args:?}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Everything about a run, for assertion messages.
fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// Asserts that stderr reports exactly one error at `path:line:column` under `key`,
/// shows the offending line with a caret under `column`, and ends with `help`.
#[track_caller]
fn assert_diagnostic(
    out: &Output,
    path: &Path,
    (line, column): (usize, usize),
    key: &str,
    message: &str,
    source: &str,
    help: &str,
) {
    assert_eq!(out.status.code(), Some(EXIT_CONFIG), "{}", describe(out));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        describe(out)
    );
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    let head = format!("{}:{line}:{column}: {key}: ", path.display());
    assert!(
        lines.first().is_some_and(|l| l.starts_with(&head)),
        "first line starts with {head:?}: {}",
        describe(out)
    );
    assert!(
        lines[0].contains(message),
        "first line says {message:?}: {}",
        describe(out)
    );
    // The offending line, then the caret under its column:
    //    5 |     priorty: 100
    //      |     ^
    let number = line.to_string();
    assert_eq!(
        lines.get(1).copied(),
        Some(format!("   {number} | {source}").as_str()),
        "the offending line: {}",
        describe(out)
    );
    let caret = format!(
        "   {} | {}^",
        " ".repeat(number.len()),
        " ".repeat(column - 1)
    );
    assert_eq!(
        lines.get(2).copied(),
        Some(caret.as_str()),
        "the caret under column {column}: {}",
        describe(out)
    );
    assert!(
        lines[3..].iter().any(|l| l.trim() == help),
        "a help line {help:?}: {}",
        describe(out)
    );
    assert!(
        !err.contains("errors, configuration not loaded"),
        "one error only: {}",
        describe(out)
    );
}

#[test]
fn check_accepts_the_example_and_prints_a_summary() {
    let path = example();
    let out = floatip(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = stdout(&out);
    let expected = format!(
        "{}: OK, 2 routers (web: eth0 vrid 51 v3 IPv4, web6: eth0 vrid 51 v3 IPv6 unicast), \
         1 sync group (lb: web, web6), 4 checks (haproxy: process, haproxy-http: http, \
         haproxy-port: tcp, drain: file)",
        path.display()
    );
    assert_eq!(summary.trim_end(), expected, "{}", describe(&out));
    assert!(
        stderr(&out).is_empty(),
        "no warnings for the example: {}",
        describe(&out)
    );
}

#[test]
fn check_points_at_an_unknown_key_and_lists_the_valid_ones() {
    let dir = temp_dir("unknown-key");
    // The misspelt key is in the second router, so a wrong index shows too.
    let path = write(
        &dir,
        "unknown-key.yaml",
        "\
# a comment, so that line numbers are not just the key's index
routers:
  - name: web
    interface: eth0
    vrid: 51
    addresses: [192.0.2.100/24]
  - name: api
    interface: eth0
    vrid: 52
      # indented comment
    priorty: 120
    addresses: [192.0.2.101/24]
",
    );
    let out = floatip(&["check", path.to_str().expect("utf-8 path")]);
    assert_diagnostic(
        &out,
        &path,
        (11, 5),
        "routers[1].priorty",
        "unknown key `priorty`",
        "    priorty: 120",
        "valid keys here: name, interface, vrid, version, priority, advert_interval, \
         preempt, preempt_delay, accept_mode, addresses, unicast, hosts, checksum, announce, \
         password, track, notify",
    );
    assert!(
        stderr(&out).contains("did you mean `priority`?"),
        "{}",
        describe(&out)
    );
}

#[test]
fn check_points_at_a_bad_interval_and_says_what_is_valid() {
    let dir = temp_dir("bad-interval");
    let path = write(
        &dir,
        "bad-interval.yaml",
        "\
routers:
  - name: web
    interface: eth0
    vrid: 51
    addresses: [192.0.2.100/24]
  - name: api
    interface: eth0
    vrid: 52
    priority: 120
    advert_interval:   15ms
    addresses: [192.0.2.101/24]
",
    );
    let out = floatip(&["check", path.to_str().expect("utf-8 path")]);
    assert_diagnostic(
        &out,
        &path,
        (10, 24),
        "routers[1].advert_interval",
        "15ms is not a multiple of 10ms",
        "    advert_interval:   15ms",
        "VRRPv3 intervals are 10ms..40950ms in steps of 10ms",
    );

    // A bare number: the unit is what is missing.
    let path = write(
        &dir,
        "no-unit.yaml",
        "routers:\n  - name: web\n    interface: eth0\n    vrid: 51\n    advert_interval: 1\n    addresses: [192.0.2.100/24]\n",
    );
    let out = floatip(&["check", path.to_str().expect("utf-8 path")]);
    assert_diagnostic(
        &out,
        &path,
        (5, 22),
        "routers[0].advert_interval",
        "has no unit",
        "    advert_interval: 1",
        "write a number with a unit: 10ms, 1s, 1.5s, 2m or 1h",
    );
}

#[test]
fn check_of_a_missing_file_fails_and_names_it() {
    let dir = temp_dir("missing");
    let path = dir.join("no-such-file.yaml");
    let out = floatip(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(EXIT_NOINPUT), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&path.display().to_string()),
        "stderr names {}: {}",
        path.display(),
        describe(&out)
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

/// `check` must need neither privileges nor the network: as uid/gid 65534 with no
/// groups, in a fresh network namespace that has no `eth0` (the example's interface)
/// and only a down loopback, it still accepts the example.
#[test]
fn check_runs_unprivileged_without_a_network() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test needs root to drop to uid 65534 and to create a network namespace; \
         it does not skip: run it as root (e.g. through .ci/run)"
    );
    let dir = temp_dir("unprivileged");
    let path = dir.join("floatip.yaml");
    std::fs::copy(example(), &path).unwrap_or_else(|e| panic!("copy the example: {e}"));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    let file = path.to_str().expect("utf-8 path");

    let unprivileged = |args: &[&str]| {
        Command::new("unshare")
            .args(["--net", "--"])
            .args([
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run unshare/setpriv (util-linux): {e}"))
    };

    // The wrapper itself works: the command runs as 65534 with no interface but lo.
    let out = unprivileged(&["id", "-u"]);
    assert_eq!(stdout(&out).trim(), "65534", "{}", describe(&out));
    let out = unprivileged(&["cat", "/proc/net/dev"]);
    assert!(
        out.status.success() && !stdout(&out).contains("eth0"),
        "a namespace without eth0: {}",
        describe(&out)
    );

    let out = unprivileged(&[BIN, "check", file]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check as uid 65534 without a network: {}",
        describe(&out)
    );
    assert!(
        stdout(&out).starts_with(&format!("{file}: OK, 2 routers")),
        "{}",
        describe(&out)
    );

    // And it still finds errors there (the unprivileged run really validated).
    let bad = write(
        &dir,
        "bad.yaml",
        "routers:\n  - name: web\n    interface: eth0\n    vrid: 256\n    addresses: [192.0.2.100/24]\n",
    );
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", bad.display()));
    let out = unprivileged(&[BIN, "check", bad.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(EXIT_CONFIG), "{}", describe(&out));
    assert!(
        stderr(&out).starts_with(&format!("{}:4:11: routers[0].vrid: ", bad.display())),
        "{}",
        describe(&out)
    );
}

#[test]
fn version_prints_the_crate_version() {
    let out = floatip(&["version"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        format!("floatip {}\n", env!("CARGO_PKG_VERSION")),
        "{}",
        describe(&out)
    );
}

#[test]
fn run_with_a_missing_config_exits_66_and_names_the_file() {
    let out = floatip(&["run", "-c", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(EXIT_NOINPUT), "{}", describe(&out));
    assert!(
        stderr(&out).contains("/nonexistent: cannot read the configuration"),
        "{}",
        describe(&out)
    );
}

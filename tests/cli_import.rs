//! `floatip import` run as a process: exit statuses (0 full, 1 items left out, 78
//! invalid input, 66 unreadable), `-o FILE` (written only when something was
//! translated, and accepted by `floatip check` when its scripts exist), `--config-id`,
//! `--json` on standard output, and the report on standard error in `check`'s style.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_floatip");

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keepalived")
        .join(name)
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_import")
        .join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn floatip(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn full_translation_exits_0_and_passes_check() {
    let dir = temp_dir("full");
    let out = dir.join("floatip.yaml");
    let input = corpus("ipv6.conf");
    let result = floatip(&[
        "import",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    assert!(
        result.stdout.is_empty(),
        "with -o the YAML goes to the file"
    );
    assert!(text(&result.stderr).contains("translated fully: 1 router(s)"));
    let check = floatip(&["check", out.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains("web6: eth0 vrid 52 v3 IPv6"),
        "{}",
        text(&check.stdout)
    );
}

#[test]
fn yaml_goes_to_stdout_without_o() {
    let input = corpus("haproxy-pair-noauth.conf");
    let result = floatip(&["import", input.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let yaml = text(&result.stdout);
    assert!(
        yaml.contains("routers:\n") && yaml.contains("process: haproxy"),
        "{yaml}"
    );
}

#[test]
fn items_left_out_exit_1_with_file_line_and_help() {
    let input = corpus("left-out.conf");
    let result = floatip(&["import", input.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    let report = text(&result.stderr);
    assert!(
        report.contains("left-out.conf:33:1: left out: `virtual_server` is not carried over"),
        "{report}"
    );
    assert!(
        report.contains("   33 | virtual_server 192.0.2.8 80 {"),
        "{report}"
    );
    assert!(
        report.contains("floatip does not drive LVS/IPVS"),
        "{report}"
    );
    assert!(
        !text(&result.stdout).is_empty(),
        "what was translated is still written"
    );
}

#[test]
fn invalid_input_exits_78_and_writes_nothing() {
    let dir = temp_dir("invalid");
    let out = dir.join("floatip.yaml");
    let input = corpus("invalid-unclosed.conf");
    let result = floatip(&[
        "import",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(78));
    assert!(!out.exists());
    let report = text(&result.stderr);
    assert!(
        report.contains(
            "invalid-unclosed.conf:3:23: error: `300` is not valid for `virtual_router_id`"
        ),
        "{report}"
    );
}

#[test]
fn missing_input_exits_66() {
    let result = floatip(&["import", "/nonexistent/keepalived.conf"]);
    assert_eq!(result.status.code(), Some(66));
    assert!(text(&result.stderr).contains("cannot read"));
}

#[test]
fn config_id_picks_the_host_and_json_reports() {
    let input = corpus("includes-conditionals.conf");
    let lb2 = floatip(&["import", input.to_str().unwrap(), "--config-id", "lb2"]);
    assert_eq!(lb2.status.code(), Some(0), "{}", text(&lb2.stderr));
    let yaml = text(&lb2.stdout);
    assert!(
        yaml.contains("source: 192.0.2.12") && yaml.contains("peers: [192.0.2.11]"),
        "{yaml}"
    );
    assert!(
        yaml.contains("priority: 100") || !yaml.contains("priority:"),
        "{yaml}"
    );
    let json = floatip(&[
        "import",
        input.to_str().unwrap(),
        "--config-id",
        "lb1",
        "--json",
    ]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(value["outcome"], "full");
    assert_eq!(value["routers"], 1);
    // Without --config-id, `priority $PRIO` stays undefined (as in keepalived): refused,
    // and the report says which option was missing.
    let none = floatip(&["import", input.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(78));
    let report = text(&none.stderr);
    assert!(
        report.contains("--config-id") && report.contains("`$PRIO` is not valid for `priority`"),
        "{report}"
    );
}

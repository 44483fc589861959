//! `floatip import` over a corpus of keepalived configurations: every sample Debian's
//! keepalived 2.2.7 ships in /usr/share/doc/keepalived/samples (`debian-*.conf`) and
//! configurations written in the styles operators use.
//!
//! For each `NAME.conf` in tests/data/keepalived/, the translated YAML is checked in as
//! `NAME.expected.yaml` (absent when nothing is translated) and the report, with its
//! exit status, as `NAME.expected.txt`; the test diffs both. `UPDATE_EXPECT=1 cargo test
//! --test import_corpus` rewrites them (review the diff before committing). A
//! `NAME.config-id` file gives the `--config-id`. Every translation must pass the
//! validation `floatip check` runs, apart from what depends on the machine (whether the
//! scripts named exist here).

use std::path::{Path, PathBuf};

use floatip::import::{self, Options, Outcome, Validation};

const CORPUS: &str = "tests/data/keepalived";

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("the corpus directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files
}

fn expect(path: &Path, actual: Option<&str>, update: bool, failures: &mut Vec<String>) {
    let expected = std::fs::read_to_string(path).ok();
    if expected.as_deref() == actual {
        return;
    }
    if update {
        match actual {
            Some(text) => std::fs::write(path, text).expect("write the expectation"),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        return;
    }
    failures.push(format!(
        "{}: differs from the translation (UPDATE_EXPECT=1 to regenerate, then review)\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        expected.as_deref().unwrap_or("(no file)"),
        actual.unwrap_or("(nothing)")
    ));
}

#[test]
fn corpus_translates_as_expected() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let files = corpus();
    assert!(
        files.len() >= 30,
        "the corpus is incomplete: {} files",
        files.len()
    );
    let mut failures = Vec::new();
    let (mut full, mut partly, mut none, mut invalid) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for file in &files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 name");
        let config_id = std::fs::read_to_string(file.with_extension("config-id"))
            .ok()
            .map(|s| s.trim().to_owned());
        let options = Options {
            config_id,
            output_name: Some(format!("{stem}.yaml")),
        };
        let imported = import::import_file(file, &options);
        let outcome = imported.outcome();
        match (outcome, imported.report.routers) {
            (Outcome::Full, _) => full.push(stem.to_owned()),
            (Outcome::Partial, 0) => none.push(stem.to_owned()),
            (Outcome::Partial, _) => partly.push(stem.to_owned()),
            (Outcome::Invalid | Outcome::Unreadable, _) => invalid.push(stem.to_owned()),
        }
        // What `floatip check` says, apart from the machine: nothing.
        if matches!(outcome, Outcome::Full | Outcome::Partial)
            && let Some(yaml) = &imported.yaml
        {
            for problem in import::validate(yaml, Path::new(&format!("{stem}.yaml"))) {
                if let Validation::Invalid(message) = problem {
                    failures.push(format!(
                        "{stem}: the translation fails `floatip check`: {message}"
                    ));
                }
            }
        }
        let yaml = if matches!(outcome, Outcome::Invalid | Outcome::Unreadable) {
            None
        } else {
            imported.yaml.clone()
        };
        let report = format!(
            "{}exit status {}\n",
            imported.render_portable_report(),
            outcome.exit_code()
        );
        let dir = file.parent().expect("a directory");
        expect(
            &dir.join(format!("{stem}.expected.yaml")),
            yaml.as_deref(),
            update,
            &mut failures,
        );
        expect(
            &dir.join(format!("{stem}.expected.txt")),
            Some(&report),
            update,
            &mut failures,
        );
    }
    eprintln!(
        "corpus: {} files: {} translated fully, {} partly, {} not at all (no VRRP to carry over), {} refused as invalid",
        files.len(),
        full.len(),
        partly.len(),
        none.len(),
        invalid.len()
    );
    eprintln!("  fully: {}", full.join(" "));
    eprintln!("  partly: {}", partly.join(" "));
    eprintln!("  not at all: {}", none.join(" "));
    eprintln!("  invalid: {}", invalid.join(" "));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The invalid inputs are refused, the operator styles translate.
    assert!(
        invalid.iter().all(|s| s.starts_with("invalid-")),
        "{invalid:?}"
    );
    assert!(invalid.len() >= 2);
    for stem in [
        "haproxy-pair-noauth",
        "haproxy-pair-auth",
        "ipv6",
        "dual-stack",
    ] {
        assert!(
            full.iter().any(|s| s == stem),
            "{stem} should translate fully"
        );
    }
}

#[test]
fn every_report_position_points_into_its_file() {
    for file in corpus() {
        let imported = import::import_file(&file, &Options::default());
        for item in imported
            .report
            .items
            .iter()
            .map(|i| &i.diag)
            .chain(&imported.report.errors)
        {
            let Some(source) = imported.sources.get(item.pos.file as usize) else {
                continue;
            };
            assert!(
                item.pos.line as usize <= source.lines.len(),
                "{}: {} at line {} of {} lines",
                file.display(),
                item.message,
                item.pos.line,
                source.lines.len()
            );
        }
    }
}

#[test]
fn json_report_carries_the_outcome() {
    let imported = import::import_file(
        Path::new("tests/data/keepalived/left-out.conf"),
        &Options::default(),
    );
    let json: serde_json::Value = serde_json::from_str(&imported.json_report()).expect("JSON");
    assert_eq!(json["outcome"], "partial");
    assert_eq!(json["exit_status"], 1);
    let items = json["items"].as_array().expect("items");
    assert!(items.iter().any(|i| {
        i["kind"] == "left out"
            && i["message"]
                .as_str()
                .is_some_and(|m| m.contains("virtual_server"))
            && i["line"].as_u64().is_some_and(|l| l > 0)
    }));
}

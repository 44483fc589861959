//! Fuzzes `floatip import` on a keepalived configuration text: the lexer (comments,
//! quotes, `@ID` conditionals, `$NAME` definitions, `~SEQ`), the block parser, the
//! translation and the validation of its result.
//!
//! Input: any bytes, read as lossy UTF-8. The first byte picks the `--config-id`
//! (none, `a` or `b`) so conditional lines are exercised both ways. Includes resolve to
//! nothing (`NoFiles`): the target reads no file.
//!
//! Properties: never panics, whatever the text; the report renders (text and JSON);
//! every position in it points at a line of the text; a translation that is not refused
//! passes `floatip check`'s validation apart from machine-dependent findings.

#![no_main]

use floatip::import::{self, Options, Outcome, Validation, lexer::NoFiles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let config_id = match selector % 3 {
        0 => None,
        1 => Some("a".to_owned()),
        _ => Some("b".to_owned()),
    };
    let text = String::from_utf8_lossy(rest);
    let options = Options {
        config_id,
        output_name: None,
    };
    let imported = import::import_text(&NoFiles, "fuzz.conf", &text, &options);
    let _ = imported.render_report();
    let _ = imported.json_report();
    let lines = text.split('\n').count() as u32;
    for diag in imported
        .report
        .items
        .iter()
        .map(|i| &i.diag)
        .chain(&imported.report.errors)
    {
        if diag.pos.file == 0 {
            assert!(diag.pos.line <= lines, "{} at line {} of {lines}", diag.message, diag.pos.line);
        }
    }
    if imported.outcome() != Outcome::Invalid
        && let Some(yaml) = &imported.yaml
    {
        for problem in import::validate(yaml, std::path::Path::new("fuzz.yaml")) {
            if let Validation::Invalid(message) = problem {
                panic!("the translation fails validation: {message}\n{yaml}");
            }
        }
    }
});

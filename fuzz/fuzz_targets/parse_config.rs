//! Fuzzes `config::parse`, what `floatip check` and every (re)load run on a file an
//! operator wrote.
//!
//! Input: any bytes, read as UTF-8 with invalid sequences replaced (a file that is not
//! UTF-8 never reaches `parse`: `load` refuses it), so every input exercises the parser.
//!
//! Properties: `parse` never panics, whatever the text; an error renders (file, line,
//! column, caret, help) without panicking and points at a line of the text; an accepted
//! configuration renders its `floatip check` summary.

#![no_main]

use std::path::Path;

use floatip::config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match config::parse(&text, Path::new("fuzz.yaml")) {
        Ok(config) => {
            let _ = config.summary();
            for warning in &config.warnings {
                let _ = warning.to_string();
            }
        }
        Err(error) => {
            let _ = error.to_string();
            // Lines are counted as YAML counts them (a line break is \n, \r\n or a lone
            // \r); a position past the end of the text is a wrong position. A
            // diagnostic may also point just past the last line (end of input).
            let lines = text.split(['\n', '\r']).count() as u64;
            for diagnostic in error.diagnostics() {
                assert!(
                    diagnostic.line <= lines + 1,
                    "diagnostic at line {} of a {lines}-line text: {diagnostic}",
                    diagnostic.line
                );
            }
        }
    }
});

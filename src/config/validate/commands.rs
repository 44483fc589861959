//! The commands scripts and hooks run: an absolute program and its arguments, collected
//! with their position so that the security check of their files (`common::security`)
//! can point at the line that names them.

use std::path::PathBuf;

use super::values::at;
use super::{Health, Validator};
use crate::common::security;
use crate::config::locate::Position;
use crate::config::schema::{RawCommand, S};

/// A command named in the file, for the security check of its executable.
#[derive(Debug, Clone)]
pub(super) struct PlacedCommand {
    pub at: Position,
    pub key: String,
    pub program: PathBuf,
    /// Arguments that are absolute paths (a script given to an interpreter).
    pub arguments: Vec<PathBuf>,
}

impl Validator<'_> {
    /// A command line or argument list; the program must be an absolute path.
    pub(super) fn command(
        &mut self,
        key: &str,
        raw: &S<RawCommand>,
        health: &mut Health,
    ) -> Option<Vec<String>> {
        let argv: Vec<String> = match &raw.value {
            RawCommand::Line(line) => line.split_whitespace().map(str::to_owned).collect(),
            RawCommand::Args(args) => args.clone(),
        };
        let Some(program) = argv.first() else {
            self.sink.error(
                at(&raw.referenced),
                key,
                "the command is empty",
                Some("e.g. `/usr/local/bin/check-haproxy --fast`".to_owned()),
            );
            return None;
        };
        if !program.starts_with('/') {
            self.sink.error(
                at(&raw.referenced),
                key,
                format!("`{program}` is not an absolute path"),
                Some(format!(
                    "commands run without a shell and without searching PATH; write the full path, e.g. /usr/bin/{program}"
                )),
            );
            return None;
        }
        health.commands.push(PlacedCommand {
            at: at(&raw.referenced),
            key: key.to_owned(),
            program: PathBuf::from(program),
            arguments: argv[1..]
                .iter()
                .filter(|a| a.starts_with('/'))
                .map(PathBuf::from)
                .collect(),
        });
        Some(argv)
    }

    /// Refuse scripts and hooks that someone other than root or the script user could
    /// replace (keepalived's `enable_script_security`, always on here), or that the
    /// script user cannot run. Looks at files, never at the network.
    pub(super) fn commands_are_safe(&mut self, health: &Health) {
        if health.commands.is_empty() {
            return;
        }
        let run_as = match security::resolve_user(health.global.script_user.as_deref()) {
            // The fallback warning (no `floatip` user) is the daemon's to log: it depends
            // on the machine, not on the file.
            Ok((run_as, _warning)) => run_as,
            Err(e) => {
                self.sink.error(
                    health.script_user_at.unwrap_or((1, 1)),
                    "global.script_user",
                    e,
                    Some("scripts and hooks run as this user; create it (adduser --system NAME) or name another".to_owned()),
                );
                return;
            }
        };
        for command in &health.commands {
            let checked = security::check_executable(&command.program, &run_as).and_then(|()| {
                command
                    .arguments
                    .iter()
                    .try_for_each(|a| security::check_argument(a, &run_as))
            });
            if let Err(e) = checked {
                self.sink.error(
                    command.at,
                    &command.key,
                    e,
                    Some(format!(
                        "scripts and hooks run as `{}`; only root and that user may be able to modify them or a directory above them",
                        run_as.user
                    )),
                );
            }
        }
    }
}

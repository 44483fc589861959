//! The `floatip` binary: parse the command line, call into the library, map errors to
//! exit codes. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use floatip::cli::{Cli, Command};

/// Exit code for "not implemented yet" (EX_UNAVAILABLE from sysexits.h).
const EXIT_UNAVAILABLE: u8 = 69;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("floatip {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Run { .. } | Command::Check { .. } | Command::Sniff { .. } => {
            eprintln!("floatip: this subcommand is not implemented in this version yet");
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

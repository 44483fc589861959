//! Command-line interface: the subcommands and their arguments.
//!
//! Owns the shape of the command line only; each subcommand's work lives in the module
//! that owns it. Must not touch the network or the filesystem itself.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/floatip/floatip.yaml";

/// floatip keeps a floating IP address on exactly one healthy host (VRRPv3/v2).
#[derive(Debug, Parser)]
#[command(name = "floatip", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Run {
        /// Configuration file.
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate a configuration file without touching the network.
    Check {
        /// Configuration file.
        #[arg(default_value = DEFAULT_CONFIG)]
        file: PathBuf,
    },
    /// Print every VRRP advertisement seen on an interface (passive).
    Sniff {
        /// Interface to listen on.
        iface: String,
        /// Stop after this many packets.
        #[arg(short = 'n', long)]
        count: Option<u64>,
    },
    /// Translate a keepalived configuration (its VRRP half) into floatip YAML.
    ///
    /// The YAML goes to standard output (or FILE with -o), the report of what was
    /// approximated or left out to standard error (or, with --json, as JSON to standard
    /// output). Exit status: 0 translated fully, 1 with items left out, 78 the input is
    /// not a valid keepalived configuration, 66 it cannot be read.
    Import {
        /// The keepalived configuration (usually /etc/keepalived/keepalived.conf).
        file: PathBuf,
        /// Write the YAML to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// keepalived's --config-id: which `@ID` conditional lines apply.
        #[arg(long, value_name = "ID")]
        config_id: Option<String>,
        /// Print the translation report as JSON on standard output (the YAML is then
        /// written only with -o).
        #[arg(long)]
        json: bool,
    },
    /// Print the version.
    Version,
    /// Write the man pages (floatip.1, floatip-run.1, ...) into DIR; used to build the
    /// package.
    #[command(hide = true)]
    Man {
        /// Directory to write the pages into.
        dir: PathBuf,
    },
    /// Write completions for SHELL to standard output; used to build the package.
    #[command(hide = true)]
    Completions {
        /// The shell to write completions for.
        shell: clap_complete::Shell,
    },
}

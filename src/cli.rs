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

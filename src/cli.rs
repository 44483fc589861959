//! Command-line interface: the subcommands and their arguments.
//!
//! Owns the shape of the command line only; each subcommand's work lives in the module
//! that owns it. Must not touch the network or the filesystem itself.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/floatip/floatip.yaml";

use crate::config::DEFAULT_CONTROL_SOCKET;

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
        /// The control socket, instead of `global.control_socket`.
        #[arg(long, value_name = "PATH", env = "FLOATIP_CONTROL_SOCKET")]
        control_socket: Option<PathBuf>,
    },
    /// Show what the running daemon does: per router its state and why, priorities, the
    /// master it hears, its addresses, checks and counters.
    ///
    /// Exit status: 0 ok; 1 with --check when a router is in Fault or an address is
    /// missing on a master; 65 the daemon refused the request (no such router); 69 the
    /// daemon is unreachable; 76 its answer could not be understood.
    Status {
        /// Only this router.
        router: Option<String>,
        /// Print the report as JSON (schema: docs/status.schema.json).
        #[arg(long)]
        json: bool,
        /// Fail (exit 1) when a router is in Fault or an address is missing where the
        /// state says Master.
        #[arg(long)]
        check: bool,
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", env = "FLOATIP_CONTROL_SOCKET", default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
    },
    /// Make the running daemon load its configuration file again and say whether it
    /// took it (as SIGHUP does, but waiting for the outcome).
    ///
    /// Exit status: 0 the new file runs; 1 it was rejected and the previous
    /// configuration still runs (the errors are printed); 69 the daemon is unreachable;
    /// 76 its answer could not be understood.
    Reload {
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", env = "FLOATIP_CONTROL_SOCKET", default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
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

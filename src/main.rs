//! The `floatip` binary: parse the command line, call into the library, map errors to
//! exit codes. Nothing else lives here.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use floatip::cli::{Cli, Command};
use floatip::daemon::{self, DaemonError};

/// sysexits.h EX_CONFIG: the configuration is invalid.
const EXIT_CONFIG: u8 = 78;
/// sysexits.h EX_NOINPUT: the configuration file cannot be read.
const EXIT_NOINPUT: u8 = 66;
/// A runtime failure (cannot open a socket, an interface is missing, ...).
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("floatip {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check { file } => match floatip::config::check(&file) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(config_exit_code(&e))
            }
        },
        Command::Status {
            router,
            json,
            check,
            socket,
        } => status(&socket, router, json, check),
        Command::Reload { socket } => reload(&socket),
        Command::Run {
            config,
            control_socket,
        } => {
            init_logging();
            match daemon::run(&config, control_socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(DaemonError::Config(e)) => {
                    eprintln!("{e}");
                    ExitCode::from(config_exit_code(&e))
                }
                Err(e) => {
                    tracing::error!("{e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
        Command::Man { dir } => match clap_mangen::generate_to(Cli::command(), &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("floatip man: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "floatip",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Import {
            file,
            output,
            config_id,
            json,
        } => import(&file, output.as_deref(), config_id, json),
        Command::Sniff { iface, count } => match daemon::sniff::run(&iface, count) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("floatip sniff: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        },
    }
}

/// How long `status` and `reload` wait for each step of the exchange.
const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const RELOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

fn status(socket: &std::path::Path, router: Option<String>, json: bool, check: bool) -> ExitCode {
    use floatip::control::{Request, client};
    let answer = match client::request(socket, &Request::Status { router }, STATUS_TIMEOUT) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("floatip status: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let Some(report) = answer.status.filter(|_| answer.ok) else {
        let message = answer
            .error
            .map_or_else(|| "no report in the answer".to_owned(), |e| e.message);
        eprintln!("floatip status: {message}");
        return ExitCode::from(client::EXIT_REFUSED);
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("floatip status: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        print!("{}", client::render(&report));
    }
    if check {
        let problems = report.problems();
        if !problems.is_empty() {
            for problem in &problems {
                eprintln!("CHECK FAILED: {problem}");
            }
            return ExitCode::from(client::EXIT_PROBLEM);
        }
    }
    ExitCode::SUCCESS
}

fn reload(socket: &std::path::Path) -> ExitCode {
    use floatip::control::{Request, client};
    let answer = match client::request(socket, &Request::Reload, RELOAD_TIMEOUT) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("floatip reload: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    match answer.reload {
        Some(outcome) if outcome.applied => match outcome.error {
            None => {
                println!("floatip reload: the new configuration runs");
                ExitCode::SUCCESS
            }
            Some(error) => {
                eprintln!("floatip reload: the new configuration runs, except:\n{error}");
                ExitCode::from(client::EXIT_PROBLEM)
            }
        },
        Some(outcome) => {
            eprintln!(
                "floatip reload: rejected; {}\n{}",
                if outcome.kept_running {
                    "the previous configuration still runs"
                } else {
                    "the configuration did not change"
                },
                outcome.error.unwrap_or_default()
            );
            ExitCode::from(client::EXIT_PROBLEM)
        }
        None => {
            let message = answer
                .error
                .map_or_else(|| "no outcome in the answer".to_owned(), |e| e.message);
            eprintln!("floatip reload: {message}");
            ExitCode::from(client::EXIT_REFUSED)
        }
    }
}

/// `floatip import`: YAML to stdout or `-o`, the report to stderr (or JSON to stdout).
fn import(
    file: &std::path::Path,
    output: Option<&std::path::Path>,
    config_id: Option<String>,
    json: bool,
) -> ExitCode {
    let options = floatip::import::Options {
        config_id,
        output_name: output.map(|o| o.display().to_string()),
    };
    let imported = floatip::import::import_file(file, &options);
    let outcome = imported.outcome();
    if matches!(
        outcome,
        floatip::import::Outcome::Full | floatip::import::Outcome::Partial
    ) && let Some(yaml) = &imported.yaml
    {
        match output {
            Some(path) => {
                if let Err(e) = std::fs::write(path, yaml) {
                    eprintln!("floatip import: cannot write {}: {e}", path.display());
                    return ExitCode::from(EXIT_FAILURE);
                }
            }
            None if !json => print!("{yaml}"),
            None => {}
        }
    }
    if json {
        println!("{}", imported.json_report());
    } else {
        eprint!("{}", imported.render_report());
    }
    ExitCode::from(outcome.exit_code())
}

fn config_exit_code(e: &floatip::config::ConfigError) -> u8 {
    match e {
        floatip::config::ConfigError::Read { .. } => EXIT_NOINPUT,
        floatip::config::ConfigError::Invalid { .. } => EXIT_CONFIG,
    }
}

/// Log to stderr (the journal under systemd), INFO by default; `FLOATIP_LOG` takes
/// `tracing` filter directives such as `debug` or `floatip=debug`. When stderr is the
/// journal, lines carry their syslog priority and no timestamp (the journal has both).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FLOATIP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if daemon::systemd::stderr_is_journal() {
        let format = tracing_subscriber::fmt::format()
            .without_time()
            .with_target(false)
            .with_ansi(false);
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            // For span fields too (the event format's own setting covers only its parts).
            .with_ansi(false)
            .event_format(daemon::systemd::SyslogPriority(format))
            .with_writer(std::io::stderr)
            .init();
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

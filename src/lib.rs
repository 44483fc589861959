//! floatip: a VRRP daemon that keeps a floating IP address on exactly one healthy host.
//!
//! The crate is a library plus the thin `floatip` binary. `proto` is the pure protocol
//! core (no I/O, no clock, no tokio); the other modules are the edges that feed it
//! events and carry out its actions.

pub mod cli;
pub mod common;
pub mod config;
pub mod control;
pub mod daemon;
pub mod import;
pub mod net;
pub mod proto;
pub mod sys;
pub mod track;

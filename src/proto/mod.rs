//! The pure protocol core: wire formats, timers, the per-router state machine and sync
//! groups.
//!
//! Must not perform I/O, read a clock, log, or depend on tokio. Time comes in as an
//! argument (`timers::Instant`) and the next deadline goes out as data, so every
//! transition can be tested exhaustively and whole groups simulated on a virtual clock.

pub mod arp;
pub mod fsm;
pub mod group;
pub mod ipv4;
pub mod ndisc;
pub mod packet;
pub mod timers;

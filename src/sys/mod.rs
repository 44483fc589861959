//! The few system calls outside the sockets that need `unsafe`: registering a
//! descriptor with tokio's reactor (`reactor`), opening a pidfd (`pidfd`), and setting
//! a child's credentials between fork and exec (`exec`). Each is a safe function or type
//! here, and each `unsafe` in this module carries a `// SAFETY:` line that says why it
//! holds.
//!
//! Owns no state and decides nothing: callers own the descriptors, the commands and the
//! policy. Must not import any other floatip module. Outside `sys/` and the socket code
//! in `net/`, floatip has no `unsafe` (tests/unsafe_edge.rs checks it), so what is unsafe
//! can be reviewed here. Where nix has a safe wrapper (its `TimerFd`, `Inotify`, `read`),
//! callers use nix directly.

pub mod exec;
pub mod pidfd;
pub mod reactor;

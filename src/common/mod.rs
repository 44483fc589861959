//! Leaf pieces that `config`, `track` and `daemon` all need: the text form of durations
//! (`duration`), and who scripts and hooks run as with the rules for which files they
//! may run (`security`).
//!
//! Owns nothing stateful. Must not import any other floatip module: `config` (which
//! validates with these rules) and `track` (which runs commands by them) both depend on
//! this module and on neither of each other's internals, so imports go one way.

pub mod duration;
pub mod security;

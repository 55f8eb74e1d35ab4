//! kiln: freeze a Python application into standalone executables.
//!
//! The build is a pipeline of stages, each a module with one entry point that takes plain data
//! and returns plain data:
//!
//! ```text
//! config -> interpreter -> analyse + resolve (ModuleGraph) -> collect (Collection)
//!        -> plan (BundlePlan) -> write (onedir | onefile) -> report (BuildReport)
//! ```
//!
//! `verify` runs a written bundle the way a user's machine will (`kiln test`).

pub mod analyse;
pub mod cache;
pub mod cli;
pub mod collect;
pub mod config;
pub mod hooks;
pub mod installed;
pub mod interpreter;
pub mod lossy;
pub mod pipeline;
pub mod plan;
pub mod process;
pub mod report;
pub mod resolve;
pub mod spec;
pub mod suite;
pub mod trace;
pub mod verify;
pub mod write;

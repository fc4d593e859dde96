//! Integration tests: one binary, one module per area.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests may print what they observed"
)]

mod auth;
mod cli;
mod demo;
mod emulator;
mod net;
mod plan;
mod report_schema;
mod webex;

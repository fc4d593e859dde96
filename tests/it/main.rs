//! Integration tests: one binary, one module per area.

mod cli;
mod emulator;
mod plan;
mod report_schema;
mod webex;

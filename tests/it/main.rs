//! Integration tests: one binary, one module per area.

mod auth;
mod cli;
mod emulator;
mod report_schema;

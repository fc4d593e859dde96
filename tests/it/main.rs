//! Integration tests: one binary, one module per area.

mod cli;
mod report_schema;
mod emulator;

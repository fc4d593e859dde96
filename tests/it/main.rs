//! Integration tests: one binary, one module per area.

mod cli;
mod net;
mod report_schema;

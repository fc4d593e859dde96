//! wxc-preflight: a diagnostic for Webex Calling multi-tenant test harnesses.
//!
//! The layers, top to bottom: `cli` dispatches; `pipeline` runs the checks of
//! `checks` by their dependencies; the checks ask `net`, `webex`, `auth` and
//! `plan` for facts and turn them into findings; `report` renders one model in
//! several formats; `finding` and its remediation catalog sit at the bottom.
//! `emulator` stands apart and shares only wire-level types.

pub mod auth;
pub mod check;
pub mod checks;
pub mod cli;
pub mod config;
pub mod demo;
pub mod duration;
pub mod emulator;
pub mod finding;
mod logging;
pub mod net;
mod output;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod run;
pub mod secret;
pub mod services;
pub mod webex;
pub mod xsi_request;

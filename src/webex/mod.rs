//! Webex: one client for REST and XSI ([`WebexClient`]), the REST resources
//! the checks read ([`RestApi`]), XSI-Actions ([`XsiClient`]) with its
//! document reader, and Webex ids.
//!
//! This layer returns facts and typed errors; it knows nothing of findings.
//! The checks map a [`WebexError`] to a finding code.

pub mod client;
pub mod ids;
pub mod rest;
pub mod xsi;
pub mod xsi_doc;

pub use client::{ApiErrorBody, Flavour, Reply, RetryPolicy, WebexClient, WebexError};
pub use rest::{License, Organization, Person, RestApi};
pub use xsi::XsiClient;
pub use xsi_doc::{CallInfo, ErrorInfo, Profile};

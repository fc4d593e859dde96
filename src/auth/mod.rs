//! OAuth and tokens: what the `token` check hands to every check after it.
//!
//! The login flows, the token store and refreshing live here (issue 5);
//! this file holds the contract the Webex checks rely on.

use crate::secret::Secret;

/// The bearer token of the run, put into the facts by the `token` check and
/// read by `connection`, `scopes`, `organization`, `xsi`, `endpoints` and
/// `plan`.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The access token itself; never printed (evidence shows
    /// [`Secret::hint`] at most).
    pub token: Secret,
    /// When it expires, when known.
    pub expires_at: Option<jiff::Timestamp>,
    /// The scopes granted, as the token response listed them; `None` when
    /// the response carried no scope string (the diff is then unverifiable).
    pub granted_scopes: Option<Vec<String>>,
}

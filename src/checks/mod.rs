//! The check catalog: one module per check id of DESIGN section 4.
//!
//! Each module has the same parts: the check type, its dependencies, and
//! one entry point that turns facts into evidence and findings.

mod authorize;
mod config;
mod connection;
mod dns;
mod endpoints;
mod internet;
pub mod network;
mod organization;
mod plan;
mod proxy;
mod redirect_url;
mod scopes;
pub mod session;
mod token;
mod xsi;

use std::sync::Arc;

use crate::check::Check;

pub use authorize::AuthorizeCheck;
pub use config::ConfigCheck;
pub use connection::{ConnectionCheck, Me};
pub use dns::{DnsCheck, DnsFacts};
pub use endpoints::{EndpointsCheck, PlanEndpoints};
pub use internet::{InternetCheck, InternetFacts};
pub use organization::{OrgFacts, OrganizationCheck};
pub use plan::PlanCheck;
pub use proxy::{ProxyCheck, ProxyFacts};
pub use redirect_url::RedirectUrlCheck;
pub use scopes::ScopesCheck;
pub use token::TokenCheck;
pub use xsi::{XsiCheck, XsiReady};

/// The scope profiles shipped under `checks/scopes/`.
pub const SCOPE_PROFILES: &[&str] = &["test_mate-2.5.17", "wbc-mt-minimal"];

/// Every check, in catalog order: the order of the chain, the earliest
/// link first.
#[must_use]
pub fn all() -> Vec<Arc<dyn Check>> {
    vec![
        Arc::new(ConfigCheck),
        Arc::new(RedirectUrlCheck),
        Arc::new(DnsCheck::new()),
        Arc::new(ProxyCheck),
        Arc::new(InternetCheck),
        Arc::new(AuthorizeCheck),
        Arc::new(TokenCheck),
        Arc::new(ConnectionCheck),
        Arc::new(ScopesCheck),
        Arc::new(OrganizationCheck),
        Arc::new(XsiCheck),
        Arc::new(EndpointsCheck),
        Arc::new(PlanCheck),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::catalog;

    #[test]
    fn registry_matches_the_catalog_and_its_dependencies() {
        let checks = all();
        let ids: Vec<&str> = checks.iter().map(|c| c.id()).collect();
        let described: Vec<&str> = catalog().checks().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids, described,
            "checks/catalog.toml and the registry disagree"
        );
        for (i, check) in checks.iter().enumerate() {
            for dep in check.depends_on() {
                let at = ids
                    .iter()
                    .position(|id| id == dep)
                    .expect("known dependency");
                assert!(at < i, "{} depends on {dep}, which comes later", check.id());
            }
        }
    }
}

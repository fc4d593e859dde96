//! The check catalog: one module per check id of DESIGN section 4.
//!
//! Each module has the same parts: the check type, its dependencies, and
//! one entry point that turns facts into evidence and findings. A check
//! whose issue has not landed yet is registered as [`Pending`], which
//! reports `skipped` ("not implemented yet"), never `pass`.

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
pub mod session;
mod xsi;

use std::sync::Arc;

use crate::check::{Check, CheckFuture, Context, Outcome};

pub use config::ConfigCheck;
pub use connection::{ConnectionCheck, Me};
pub use dns::{DnsCheck, DnsFacts};
pub use endpoints::{EndpointsCheck, PlanEndpoints};
pub use internet::{InternetCheck, InternetFacts};
pub use organization::{OrgFacts, OrganizationCheck, xsi_request_email};
pub use plan::PlanCheck;
pub use proxy::{ProxyCheck, ProxyFacts};
pub use redirect_url::RedirectUrlCheck;
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
        Arc::new(Pending {
            id: "authorize",
            deps: &["internet", "redirect-url"],
        }),
        Arc::new(Pending {
            id: "token",
            deps: &["internet"],
        }),
        Arc::new(ConnectionCheck),
        Arc::new(Pending {
            id: "scopes",
            deps: &["token"],
        }),
        Arc::new(OrganizationCheck),
        Arc::new(XsiCheck),
        Arc::new(EndpointsCheck),
        Arc::new(PlanCheck),
    ]
}

/// A check of the catalog whose implementation has not landed yet.
struct Pending {
    id: &'static str,
    deps: &'static [&'static str],
}

impl Check for Pending {
    fn id(&self) -> &'static str {
        self.id
    }

    fn depends_on(&self) -> &'static [&'static str] {
        self.deps
    }

    fn run<'a>(&'a self, _ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async { Outcome::skipped("not implemented yet") })
    }
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

//! The emulated organisation and everything the emulator remembers.
//!
//! One [`Shared`] value is behind every server: the fixed directory (org,
//! users, licences, the integration) built at start from the faults, and a
//! [`World`] under a mutex for what changes (tokens, codes, consents, device
//! grants, calls). The mutex is never held across an await.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ring::rand::{SecureRandom as _, SystemRandom};

use super::calls::{Party, Switch};
use super::faults::Behaviour;
use super::ids::{self, IdKind};

/// The scopes registered on the emulated integration, which the personal
/// access token carries too. The tool's `wbc-mt-minimal` profile should be a
/// subset of these.
pub const REGISTERED_SCOPES: &[&str] = &[
    "spark:people_read",
    "spark:calls_read",
    "spark:calls_write",
    "spark:xsi",
    "spark:telephony_config_read",
    "spark-admin:people_read",
    "spark-admin:organizations_read",
    "spark-admin:licenses_read",
    "spark-admin:telephony_config_read",
    "spark-admin:calls_read",
    "spark-admin:calls_write",
    "spark-admin:xsi",
];

/// The role id of a full administrator (decodes to `ROLE/id_full_admin`).
pub const FULL_ADMIN_ROLE: &str = "id_full_admin";

/// The location's routing prefix: `work_extension` numbers are this plus the
/// extension (webex-api.md 2.1), and dialling them reaches the user.
pub const ROUTING_PREFIX: &str = "8";

/// The Webex Calling licence name (webex-api.md 5.2).
pub const CALLING_LICENCE: &str = "Webex Calling - Professional";

/// An emulated person.
#[derive(Debug, Clone)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent properties of a person"
)]
pub struct User {
    /// CI UUID.
    pub uuid: String,
    /// Primary email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Webex Calling extension, for calling users.
    pub extension: Option<String>,
    /// E.164 number, for calling users.
    pub number: Option<String>,
    /// Holds the full admin role.
    pub admin: bool,
    /// Holds a Webex Calling licence and a location (so has an XSI profile).
    pub calling: bool,
    /// The device auto-answers the click-to-dial leg.
    pub auto_answer: bool,
    /// The device alerts on incoming calls.
    pub alerts: bool,
}

impl User {
    /// `First Last`.
    #[must_use]
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// The Webex person id.
    #[must_use]
    pub fn person_id(&self) -> String {
        ids::encode(IdKind::People, &self.uuid)
    }

    /// The user as a party of the call switch.
    #[must_use]
    pub fn party(&self) -> Party {
        Party {
            uuid: self.uuid.clone(),
            name: self.display_name(),
            number: self.number.clone().unwrap_or_default(),
            auto_answer: self.auto_answer,
            alerts: self.alerts,
        }
    }
}

/// A licence of the organisation.
#[derive(Debug, Clone)]
pub struct Licence {
    /// Webex licence id.
    pub id: String,
    /// Licence name.
    pub name: String,
    /// Units bought.
    pub total_units: u32,
}

/// The organisation and its people.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Org UUID.
    pub org_uuid: String,
    /// Org display name.
    pub org_name: String,
    /// The location every calling user sits in.
    pub location_uuid: String,
    /// Everyone, administrator first.
    pub users: Vec<User>,
    /// Emails of the plan endpoints, in plan order (one may not exist, by fault).
    pub plan_emails: Vec<String>,
    /// Licences.
    pub licences: Vec<Licence>,
}

impl Directory {
    /// Builds the organisation: an administrator, three plan endpoints and a
    /// plain user, shaped by the faults.
    #[must_use]
    pub fn build(behaviour: &Behaviour) -> Self {
        let org_uuid = new_uuid();
        let person = |email: &str, first: &str, last: &str, n: u32| User {
            uuid: new_uuid(),
            email: email.to_owned(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            extension: Some(n.to_string()),
            number: Some(format!("+1555010{n}")),
            admin: false,
            calling: true,
            auto_answer: true,
            alerts: true,
        };
        let admin = User {
            admin: behaviour.admin_has_role,
            calling: false,
            extension: None,
            number: None,
            ..person("admin@example.com", "Avery", "Admin", 0)
        };
        let mut endpoints = vec![
            person("alice@example.com", "Alice", "Anders", 1001),
            // Bob's desk phone must be answered before his click-to-dial call rings out.
            User {
                auto_answer: false,
                ..person("bob@example.com", "Bob", "Brown", 1002)
            },
            person("carol@example.com", "Carol", "Chen", 1003),
        ];
        let plan_emails = endpoints.iter().map(|u| u.email.clone()).collect();
        if let Some(i) = behaviour.unlicensed_endpoint {
            let user = &mut endpoints[i];
            user.calling = false;
            user.extension = None;
            user.number = None;
        }
        if let Some(i) = behaviour.unanswering_endpoint {
            endpoints[i].alerts = false;
        }
        if let Some(i) = behaviour.missing_endpoint {
            endpoints.remove(i);
        }
        let plain = User {
            calling: false,
            extension: None,
            number: None,
            ..person("dave@example.com", "Dave", "Doe", 0)
        };
        let mut users = vec![admin];
        users.extend(endpoints);
        users.push(plain);

        let licence = |code: &str, name: &str, total_units| Licence {
            id: ids::encode(
                IdKind::License,
                &format!("{org_uuid}:{code}_{}", new_uuid()),
            ),
            name: name.to_owned(),
            total_units,
        };
        let licences = vec![
            licence("BCSTD", CALLING_LICENCE, 25),
            licence("MS", "Messaging", 100),
            licence("CF", "Meeting - Webex Meetings", 100),
        ];
        Directory {
            org_uuid: org_uuid.clone(),
            org_name: "Emulated Harness Org".to_owned(),
            location_uuid: new_uuid(),
            users,
            plan_emails,
            licences,
        }
    }

    /// The org id.
    #[must_use]
    pub fn org_id(&self) -> String {
        ids::encode(IdKind::Organization, &self.org_uuid)
    }

    /// The administrator (the login user of `demo` and the PAT's owner).
    #[must_use]
    pub fn admin(&self) -> &User {
        &self.users[0]
    }

    /// A user by UUID.
    #[must_use]
    pub fn by_uuid(&self, uuid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.uuid == uuid)
    }

    /// A user by email, ignoring case.
    #[must_use]
    pub fn by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// A user by a dialable address: extension, number (with or without
    /// `tel:`, `+`), email or UUID.
    #[must_use]
    pub fn by_address(&self, address: &str) -> Option<&User> {
        let bare = address
            .trim()
            .trim_start_matches("tel:")
            .trim_start_matches("sip:");
        self.users.iter().filter(|u| u.calling).find(|u| {
            u.extension.as_deref() == Some(bare)
                || u.extension
                    .as_deref()
                    .map(|e| format!("{ROUTING_PREFIX}{e}"))
                    .as_deref()
                    == Some(bare)
                || u.number.as_deref() == Some(bare)
                || u.number.as_deref().map(|n| n.trim_start_matches('+'))
                    == Some(bare.trim_start_matches('+'))
                || u.email.eq_ignore_ascii_case(bare)
                || u.uuid == bare
        })
    }

    /// The ids of the licences a user holds.
    #[must_use]
    pub fn licences_of(&self, user: &User) -> Vec<String> {
        self.licences
            .iter()
            .filter(|l| l.name != CALLING_LICENCE || user.calling)
            .map(|l| l.id.clone())
            .collect()
    }
}

/// The OAuth integration (client) registered with the emulated identity service.
#[derive(Debug, Clone)]
pub struct Integration {
    /// `C` + 64 hex digits.
    pub client_id: String,
    /// 64 hex digits.
    pub client_secret: String,
    /// The one registered redirect URI.
    pub redirect_uri: String,
    /// The registered scopes.
    pub scopes: Vec<String>,
}

/// An access token the API accepts.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    /// The token owner's UUID.
    pub user_uuid: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry.
    pub expires_at: SystemTime,
    /// Revoked (for example by reuse of its authorization code).
    pub revoked: bool,
}

/// A refresh token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The owner's UUID.
    pub user_uuid: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry.
    pub expires_at: SystemTime,
    /// Used once already: rotation makes it dead.
    pub used: bool,
}

/// The PKCE challenge of an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The challenge.
    pub value: String,
    /// `S256` or `plain`.
    pub method: String,
}

/// An authorization waiting on the login and consent page.
#[derive(Debug, Clone)]
pub struct Consent {
    /// The client.
    pub client_id: String,
    /// The validated redirect URI.
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// PKCE.
    pub challenge: Option<Challenge>,
    /// Created at.
    pub created: SystemTime,
}

/// An authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// The client.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// The user who consented.
    pub user_uuid: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// PKCE.
    pub challenge: Option<Challenge>,
    /// Expiry (10 minutes).
    pub expires_at: SystemTime,
    /// Exchanged already.
    pub used: bool,
    /// Tokens issued for it, revoked if it is replayed.
    pub issued: Vec<String>,
}

/// Where a device grant stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// Approved by a user.
    Approved(String),
    /// Denied.
    Denied,
    /// Tokens were issued.
    Redeemed,
}

/// A device authorization.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    /// The client.
    pub client_id: String,
    /// Six digits the user types.
    pub user_code: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Expiry.
    pub expires_at: SystemTime,
    /// Status.
    pub status: DeviceStatus,
}

/// Everything that changes while the emulator runs.
#[derive(Debug)]
pub struct World {
    /// Access tokens by value.
    pub access: HashMap<String, AccessGrant>,
    /// Refresh tokens by value.
    pub refresh: HashMap<String, RefreshGrant>,
    /// Authorization codes by value.
    pub codes: HashMap<String, AuthCode>,
    /// Pending consents by request id.
    pub consents: HashMap<String, Consent>,
    /// Device grants by device code.
    pub devices: HashMap<String, DeviceGrant>,
    /// Calls.
    pub switch: Switch,
}

impl World {
    /// An empty world whose calls ring for at most `ring_timeout`.
    #[must_use]
    pub fn new(ring_timeout: Duration) -> Self {
        World {
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            consents: HashMap::new(),
            devices: HashMap::new(),
            switch: Switch::new(ring_timeout),
        }
    }
}

/// Counters tests and the CLI can read.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests to `POST /v1/access_token` and `POST /v1/device/token`.
    pub token_endpoint_hits: AtomicU64,
    /// Requests served by the HTTPS server.
    pub requests: AtomicU64,
    /// REST and XSI requests seen by the rate limiter.
    pub limited_route_requests: AtomicU64,
    /// CONNECT tunnels opened by the proxy.
    pub proxy_tunnels: AtomicU64,
    /// Proxy requests answered 407.
    pub proxy_challenges: AtomicU64,
}

impl Counters {
    /// Adds one to `counter` and returns the new value.
    pub fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The base URLs the emulator serves.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `https://HOST:PORT` with no path.
    pub origin: String,
    /// `https://HOST:PORT/v1`.
    pub api_base: String,
    /// `https://HOST:PORT/com.broadsoft.xsi-actions`.
    pub xsi_actions: String,
}

/// What every server shares.
#[derive(Debug)]
pub struct Shared {
    /// The faults' effect.
    pub behaviour: Behaviour,
    /// The organisation.
    pub directory: Directory,
    /// The integration.
    pub integration: Integration,
    /// Base URLs.
    pub urls: Urls,
    /// Mutable state.
    pub world: Mutex<World>,
    /// Counters.
    pub counters: Counters,
}

impl Shared {
    /// Locks the world; a poisoned lock (a panicked handler) is taken over as is.
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `n` random bytes from the system generator.
///
/// # Panics
///
/// When the operating system's random source fails, which leaves nothing to do.
#[must_use]
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source failed");
    bytes
}

/// `n` random bytes as lowercase hex.
#[must_use]
pub fn random_hex(n: usize) -> String {
    hex(&random_bytes(n))
}

/// Lowercase hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `n` random characters from `[A-Za-z0-9]`.
#[must_use]
pub fn random_alnum(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_bytes(n)
        .into_iter()
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

/// A fresh random UUID (v4), hyphenated.
#[must_use]
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::faults::{FaultSpec, ProxyAuthMode};

    #[test]
    fn directory_has_admin_and_three_calling_endpoints() {
        let d = Directory::build(&Behaviour::healthy(ProxyAuthMode::None));
        assert!(d.admin().admin);
        assert_eq!(d.plan_emails.len(), 3);
        for email in &d.plan_emails {
            let user = d.by_email(email).unwrap();
            assert!(user.calling);
            assert_eq!(
                d.by_address(user.extension.as_deref().unwrap())
                    .unwrap()
                    .email,
                *email
            );
            assert_eq!(
                d.by_address(&format!("tel:{}", user.number.as_deref().unwrap()))
                    .unwrap()
                    .email,
                *email
            );
        }
        assert_eq!(d.licences_of(d.admin()).len(), 2);
    }

    #[test]
    fn faults_reshape_the_directory() {
        let faults = [
            FaultSpec::parse("endpoint-missing").unwrap(),
            FaultSpec::parse("not-admin").unwrap(),
        ];
        let d = Directory::build(&Behaviour::healthy(ProxyAuthMode::None).with_faults(&faults));
        assert!(!d.admin().admin);
        assert_eq!(d.plan_emails.len(), 3);
        assert!(d.by_email(&d.plan_emails[2]).is_none());
    }

    #[test]
    fn random_text_has_the_requested_shape() {
        assert_eq!(random_hex(32).len(), 64);
        assert!(random_alnum(40).chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(random_alnum(40), random_alnum(40));
    }
}

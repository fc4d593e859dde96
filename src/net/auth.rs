//! Proxy authentication: reading `Proxy-Authenticate` challenges as facts and
//! answering them with Basic or Digest credentials.
//!
//! The arithmetic of Digest (MD5, SHA-256, SHA-512-256, their `-sess`
//! variants, `qop=auth`, the nonce count) is the `http-auth` crate's; this
//! module chooses which challenge to answer, following the configured mode
//! rather than the strongest offer, because the check must tell the user
//! when the configured scheme is not among those offered.
//!
//! An answer is a credential: it is returned as a [`SecretString`] and never
//! logged.

use std::fmt;

use http_auth::{ChallengeRef, DigestClient, PasswordParams};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

pub use super::settings::ProxyAuthMode;

/// One challenge a proxy offered in a `Proxy-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    /// The scheme as the proxy spelled it (`Basic`, `Digest`, `NTLM`, ...).
    pub scheme: String,
    /// The protection space, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Digest: the hash algorithm named (absent means MD5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Digest: the quality-of-protection values offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qop: Option<String>,
    /// Digest: `stale=true` says the nonce expired, not the credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<bool>,
}

impl Challenge {
    /// Whether this challenge is of the given configured mode.
    #[must_use]
    pub fn is_mode(&self, mode: ProxyAuthMode) -> bool {
        match mode {
            ProxyAuthMode::None => false,
            ProxyAuthMode::Basic => self.scheme.eq_ignore_ascii_case("basic"),
            ProxyAuthMode::Digest => self.scheme.eq_ignore_ascii_case("digest"),
        }
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        let mut sep = " ";
        let mut field = |f: &mut fmt::Formatter<'_>, k: &str, v: &str| {
            let r = write!(f, "{sep}{k}={v}");
            sep = ", ";
            r
        };
        if let Some(realm) = &self.realm {
            field(f, "realm", &format!("\"{realm}\""))?;
        }
        if let Some(alg) = &self.algorithm {
            field(f, "algorithm", alg)?;
        }
        if let Some(qop) = &self.qop {
            field(f, "qop", &format!("\"{qop}\""))?;
        }
        if let Some(stale) = self.stale {
            field(f, "stale", if stale { "true" } else { "false" })?;
        }
        Ok(())
    }
}

/// Reads every challenge out of the values of the `Proxy-Authenticate`
/// headers of one response, in order. A value that does not parse still
/// yields its first word as the scheme, so no offer goes unreported.
#[must_use]
pub fn parse_challenges<S: AsRef<str>>(header_values: &[S]) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in header_values {
        let value = value.as_ref();
        if let Ok(parsed) = http_auth::parse_challenges(value) {
            out.extend(parsed.iter().map(challenge_fact));
            continue;
        }
        let scheme = value
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches(',');
        if !scheme.is_empty() {
            out.push(Challenge {
                scheme: scheme.to_owned(),
                realm: None,
                algorithm: None,
                qop: None,
                stale: None,
            });
        }
    }
    out
}

fn challenge_fact(c: &ChallengeRef<'_>) -> Challenge {
    let param = |name: &str| {
        c.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_unescaped())
    };
    let is_digest = c.scheme.eq_ignore_ascii_case("digest");
    Challenge {
        scheme: c.scheme.to_owned(),
        realm: param("realm"),
        algorithm: param("algorithm"),
        qop: param("qop"),
        stale: if is_digest {
            Some(param("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")))
        } else {
            None
        },
    }
}

/// A user name and password to answer a proxy with.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"(redacted)")
            .finish()
    }
}

/// Why no answer could be made to a proxy's challenges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The configured scheme is not among the challenges.
    #[error("the proxy does not offer the configured scheme")]
    SchemeNotOffered,
    /// A challenge of the configured scheme was offered but is unusable
    /// (an unknown algorithm, no supported qop, a missing nonce).
    #[error("the proxy's {scheme} challenge cannot be answered: {reason}")]
    Unusable {
        /// The scheme.
        scheme: String,
        /// What is wrong with it, from the Digest implementation.
        reason: String,
    },
}

/// The `Proxy-Authorization` value for Basic, which needs no challenge.
#[must_use]
pub fn basic_answer(creds: &Credentials) -> SecretString {
    SecretString::from(http_auth::basic::encode_credentials(
        &creds.username,
        creds.password.expose_secret(),
    ))
}

/// Answers the configured scheme's challenge among the `Proxy-Authenticate`
/// values of a 407, for a request `method` on `uri` (for CONNECT the
/// authority `host:port`). Among several Digest challenges the strongest
/// usable algorithm is answered.
pub fn answer(
    mode: ProxyAuthMode,
    header_values: &[String],
    creds: &Credentials,
    method: &str,
    uri: &str,
) -> Result<SecretString, AnswerError> {
    match mode {
        ProxyAuthMode::None => Err(AnswerError::SchemeNotOffered),
        ProxyAuthMode::Basic => {
            if parse_challenges(header_values)
                .iter()
                .any(|c| c.is_mode(ProxyAuthMode::Basic))
            {
                Ok(basic_answer(creds))
            } else {
                Err(AnswerError::SchemeNotOffered)
            }
        }
        ProxyAuthMode::Digest => digest_answer(header_values, creds, method, uri),
    }
}

fn digest_answer(
    header_values: &[String],
    creds: &Credentials,
    method: &str,
    uri: &str,
) -> Result<SecretString, AnswerError> {
    let mut best: Option<(u8, DigestClient)> = None;
    let mut offered = false;
    let mut last_reason = String::new();
    for value in header_values {
        let Ok(parsed) = http_auth::parse_challenges(value) else {
            continue;
        };
        for c in parsed
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case("digest"))
        {
            offered = true;
            match DigestClient::try_from(c) {
                Ok(client) => {
                    let rank = algorithm_rank(client.algorithm());
                    if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                        best = Some((rank, client));
                    }
                }
                Err(reason) => last_reason = reason,
            }
        }
    }
    let Some((_, mut client)) = best else {
        return Err(if offered {
            AnswerError::Unusable {
                scheme: "Digest".into(),
                reason: last_reason.to_lowercase(),
            }
        } else {
            AnswerError::SchemeNotOffered
        });
    };
    // qop=auth when offered; an empty body only where auth-int is all there is.
    let body: Option<&[u8]> = if client.qop() & http_auth::digest::Qop::Auth {
        None
    } else {
        Some(&[])
    };
    let params = PasswordParams {
        username: &creds.username,
        password: creds.password.expose_secret(),
        uri,
        method,
        body,
    };
    client
        .respond(&params)
        .map(SecretString::from)
        .map_err(|reason| AnswerError::Unusable {
            scheme: "Digest".into(),
            reason: reason.to_lowercase(),
        })
}

fn algorithm_rank(a: http_auth::digest::Algorithm) -> u8 {
    use http_auth::digest::Algorithm;
    match a {
        Algorithm::Md5 => 1,
        Algorithm::Sha256 => 3,
        Algorithm::Sha512Trunc256 => 2,
        _ => 0,
    }
}

/// Whether a 407's challenges say the Digest nonce went stale (the
/// credentials were right; answer the new nonce).
#[must_use]
pub fn digest_stale<S: AsRef<str>>(header_values: &[S]) -> bool {
    parse_challenges(header_values)
        .iter()
        .any(|c| c.is_mode(ProxyAuthMode::Digest) && c.stale == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: SecretString::from("s3cret"),
        }
    }

    const SQUID_DIGEST: &str = "Digest realm=\"rig-digest\", \
        nonce=\"291d35200b31504f87da48e165ee7817\", qop=\"auth\", stale=false";

    #[test]
    fn reads_every_challenge_with_its_parameters() {
        let values = vec![
            SQUID_DIGEST.to_owned(),
            "Basic realm=\"rig-basic\"".to_owned(),
        ];
        let got = parse_challenges(&values);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].scheme, "Digest");
        assert_eq!(got[0].realm.as_deref(), Some("rig-digest"));
        assert_eq!(got[0].qop.as_deref(), Some("auth"));
        assert_eq!(got[0].stale, Some(false));
        assert_eq!(got[0].algorithm, None);
        assert_eq!(got[1].scheme, "Basic");
        assert_eq!(got[1].stale, None);
        assert_eq!(
            got[0].to_string(),
            "Digest realm=\"rig-digest\", qop=\"auth\", stale=false"
        );
    }

    #[test]
    fn several_challenges_in_one_header_and_unparseable_ones() {
        let values = vec![
            "Negotiate, NTLM".to_owned(),
            "Basic realm=\"x\", Bogus ===".to_owned(),
        ];
        let got = parse_challenges(&values);
        let schemes: Vec<_> = got.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Negotiate", "NTLM", "Basic"]);
    }

    #[test]
    fn basic_answer_is_base64_of_user_and_password() {
        let got = answer(
            ProxyAuthMode::Basic,
            &["Basic realm=\"r\"".to_owned()],
            &creds(),
            "CONNECT",
            "h:443",
        )
        .unwrap();
        assert_eq!(got.expose_secret(), "Basic YWxpY2U6czNjcmV0");
    }

    #[test]
    fn configured_basic_is_not_answered_with_digest() {
        let err = answer(
            ProxyAuthMode::Basic,
            &[SQUID_DIGEST.to_owned()],
            &creds(),
            "CONNECT",
            "h:443",
        )
        .unwrap_err();
        assert_eq!(err, AnswerError::SchemeNotOffered);
    }

    #[test]
    fn digest_answer_for_connect_uses_the_authority_as_uri() {
        let got = answer(
            ProxyAuthMode::Digest,
            &["Basic realm=\"b\"".to_owned(), SQUID_DIGEST.to_owned()],
            &creds(),
            "CONNECT",
            "webexapis.com:443",
        )
        .unwrap();
        let v = got.expose_secret();
        assert!(v.starts_with("Digest username=\"alice\""), "{v}");
        assert!(v.contains("uri=\"webexapis.com:443\""), "{v}");
        assert!(v.contains("nc=00000001"), "{v}");
        assert!(v.contains("qop=auth"), "{v}");
        assert!(v.contains("algorithm=MD5"), "{v}");
    }

    #[test]
    fn digest_prefers_sha256_over_md5() {
        let values = vec![
            "Digest realm=\"r\", nonce=\"n1\", qop=\"auth\", algorithm=MD5".to_owned(),
            "Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", algorithm=SHA-256-sess".to_owned(),
        ];
        let got = answer(ProxyAuthMode::Digest, &values, &creds(), "CONNECT", "h:443").unwrap();
        assert!(got.expose_secret().contains("algorithm=SHA-256-sess"));
        assert!(got.expose_secret().contains("nonce=\"n2\""));
    }

    #[test]
    fn unknown_digest_algorithm_is_unusable_not_absent() {
        let values = vec!["Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1".to_owned()];
        let err = answer(ProxyAuthMode::Digest, &values, &creds(), "CONNECT", "h:443").unwrap_err();
        assert!(matches!(err, AnswerError::Unusable { .. }), "{err:?}");
    }

    #[test]
    fn stale_is_detected() {
        assert!(digest_stale(&[
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth\", stale=true"
        ]));
        assert!(!digest_stale(&[SQUID_DIGEST]));
    }

    #[test]
    fn credentials_debug_is_redacted() {
        assert!(!format!("{:?}", creds()).contains("s3cret"));
    }
}

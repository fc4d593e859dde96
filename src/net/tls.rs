//! Trust: which roots the tool trusts (the system's and `ca_file`'s), one
//! rustls configuration for every TLS connection of the run, and the
//! classification of TLS failures.
//!
//! The project uses rustls with the `ring` provider everywhere. The verifier
//! remembers the last chain a server presented, so a probe can name the
//! certificates and the issuer even when the chain is refused: that issuer
//! is what a user needs to find the TLS-inspecting proxy's CA.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::Serialize;

use super::settings::TlsSettings;
use super::x509;

/// Installs ring as the process's rustls provider, once; later calls and a
/// provider already installed are fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One certificate of a presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    /// The subject, most specific first (`CN=..., O=...`).
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// Start of validity, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_before: String,
    /// End of validity.
    pub not_after: String,
    /// The DNS names and addresses it is valid for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

impl CertificateSummary {
    /// Describes a DER certificate; unreadable fields stay empty.
    #[must_use]
    pub fn from_der(der: &[u8]) -> Self {
        let p = x509::parse(der).unwrap_or_default();
        Self {
            subject: p.subject,
            issuer: p.issuer,
            not_before: p.not_before,
            not_after: p.not_after,
            names: p.names,
        }
    }
}

/// What the trust store was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustFacts {
    /// Roots loaded from the operating system.
    pub system_roots: usize,
    /// Problems met loading them (unreadable files, bad certificates).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_errors: Vec<String>,
    /// The extra CA file, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Roots loaded from it.
    pub ca_file_roots: usize,
    /// The subjects of those roots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_file_subjects: Vec<String>,
}

/// Why the trust store could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The CA file cannot be read.
    #[error("cannot read ca file {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The CA file holds no PEM certificate.
    #[error("ca file {} holds no pem certificate", path.display())]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// A certificate in the CA file is not a usable trust anchor.
    #[error("ca file {} has a certificate that cannot be a root: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The roots the tool trusts. Cheap to clone.
#[derive(Clone)]
pub struct TlsTrust {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    facts: TrustFacts,
}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTrust")
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

impl TlsTrust {
    /// Loads the system's roots (unless turned off) and those of the CA file.
    pub fn load(settings: &TlsSettings) -> Result<Self, TrustError> {
        install_crypto_provider();
        let mut roots = RootCertStore::empty();
        let mut facts = TrustFacts {
            system_roots: 0,
            system_errors: Vec::new(),
            ca_file: settings.ca_file.clone(),
            ca_file_roots: 0,
            ca_file_subjects: Vec::new(),
        };
        if !settings.without_system_roots {
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(native.certs);
            facts.system_roots = added;
            facts.system_errors = native
                .errors
                .iter()
                .map(|e| e.to_string().to_lowercase())
                .collect();
        }
        if let Some(path) = &settings.ca_file {
            let certs = read_pem_certificates(path)?;
            for cert in certs {
                facts
                    .ca_file_subjects
                    .push(CertificateSummary::from_der(&cert).subject);
                roots.add(cert).map_err(|e| TrustError::Invalid {
                    path: path.clone(),
                    reason: e.to_string().to_lowercase(),
                })?;
                facts.ca_file_roots += 1;
            }
        }
        tracing::debug!(
            system_roots = facts.system_roots,
            ca_file_roots = facts.ca_file_roots,
            "trust store loaded"
        );
        Ok(Self {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            facts,
        })
    }

    /// What the store holds.
    #[must_use]
    pub fn facts(&self) -> &TrustFacts {
        &self.facts
    }

    /// A client configuration with these roots, offering the given ALPN
    /// protocols; its verifier remembers the last chain it saw.
    pub(crate) fn client_config(&self, alpn: &[&[u8]]) -> (ClientConfig, Arc<TrustVerifier>) {
        let verifier = Arc::new(TrustVerifier::new(
            self.roots.clone(),
            self.provider.clone(),
        ));
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        (config, verifier)
    }
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let bytes = std::fs::read(path).map_err(|e| TrustError::Unreadable {
        path: path.to_owned(),
        reason: super::io_message(&e),
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrustError::Invalid {
            path: path.to_owned(),
            reason: format!("{e:?}").to_lowercase(),
        })?;
    if certs.is_empty() {
        return Err(TrustError::NoCertificates {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// webpki verification against our roots, remembering the presented chain.
#[derive(Debug)]
pub(crate) struct TrustVerifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    seen: Mutex<Vec<CertificateDer<'static>>>,
}

impl TrustVerifier {
    fn new(roots: Arc<RootCertStore>, provider: Arc<CryptoProvider>) -> Self {
        // With no roots at all webpki refuses to build; every chain is then
        // from an unknown issuer, which is what we report.
        let webpki = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .ok()
        };
        Self {
            webpki,
            provider,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The chain of the last handshake, leaf first.
    pub(crate) fn last_chain(&self) -> Vec<CertificateSummary> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|c| CertificateSummary::from_der(c))
            .collect()
    }
}

impl ServerCertVerifier for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.clear();
            seen.push(end_entity.clone().into_owned());
            seen.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        match &self.webpki {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum TlsFailure {
    /// The chain does not lead to a trusted root; `issuer` names the
    /// certificate it stops at (typically a TLS-inspecting proxy's CA).
    Untrusted {
        /// The issuer of the topmost presented certificate.
        issuer: String,
    },
    /// The certificate is not valid for the name asked for.
    NameMismatch {
        /// The name asked for.
        expected: String,
        /// The names the certificate covers.
        presented: Vec<String>,
    },
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet (or the local clock is behind).
    NotYetValid,
    /// Another certificate problem.
    BadCertificate {
        /// The verifier's words.
        reason: String,
    },
    /// The server ended the handshake with an alert.
    Alert {
        /// The alert.
        alert: String,
    },
    /// The server answered the handshake with plain HTTP.
    PlainHttp,
    /// The server answered with something that is not TLS.
    NotTls {
        /// Its first bytes, escaped.
        first_bytes: String,
    },
    /// The server closed the connection during the handshake.
    Closed,
    /// Any other handshake error.
    Handshake {
        /// The error.
        reason: String,
    },
}

/// Classifies a failed handshake from the error, the chain the verifier
/// saw, the name asked for and the first bytes the server sent.
pub(crate) fn classify(
    err: &io::Error,
    chain: &[CertificateSummary],
    expected: &str,
    first_bytes: &[u8],
) -> TlsFailure {
    if first_bytes.starts_with(b"HTTP/") {
        return TlsFailure::PlainHttp;
    }
    if let Some(&b) = first_bytes.first()
        && !(0x14..=0x17).contains(&b)
    {
        return TlsFailure::NotTls {
            first_bytes: super::head::excerpt(&first_bytes[..first_bytes.len().min(16)]),
        };
    }
    let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        if err.kind() == io::ErrorKind::UnexpectedEof || first_bytes.is_empty() {
            return TlsFailure::Closed;
        }
        return TlsFailure::Handshake {
            reason: super::io_message(err),
        };
    };
    match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsFailure::Untrusted {
                    issuer: chain.last().map(|c| c.issuer.clone()).unwrap_or_default(),
                }
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch {
                    expected: expected.to_owned(),
                    presented: chain.first().map(|c| c.names.clone()).unwrap_or_default(),
                }
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            other => TlsFailure::BadCertificate {
                reason: format!("{other:?}").to_lowercase(),
            },
        },
        rustls::Error::AlertReceived(a) => TlsFailure::Alert {
            alert: format!("{a:?}").to_lowercase(),
        },
        other => TlsFailure::Handshake {
            reason: other.to_string().to_lowercase(),
        },
    }
}

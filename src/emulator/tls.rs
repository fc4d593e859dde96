//! The emulator's certificate authority and server certificate.
//!
//! A fresh CA is generated at every start (rcgen, ring backend) and signs one
//! server certificate for the loopback names. The CA certificate is written
//! out so the tool (through `[webex] ca_file`) and curl (`--cacert`) can
//! trust the emulator without trusting anything else.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The generated CA and the server configuration built on it.
pub struct Authority {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The TLS server configuration (HTTP/1.1 only).
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Generates a CA and a server certificate for `localhost`, `127.0.0.1`,
/// `::1` and `extra_ip`.
pub fn generate(extra_ip: IpAddr) -> anyhow::Result<Authority> {
    let ca_key = KeyPair::generate().context("could not generate the CA key")?;
    let mut ca_params = CertificateParams::default();
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "wxc-preflight emulator CA");
    ca_name.push(DnType::OrganizationName, "wxc-preflight");
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut ca_params);
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("could not sign the CA certificate")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().context("could not generate the server key")?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !names.contains(&extra_ip.to_string()) {
        names.push(extra_ip.to_string());
    }
    let mut leaf_params =
        CertificateParams::new(names).context("could not build the server certificate")?;
    let mut leaf_name = DistinguishedName::new();
    leaf_name.push(DnType::CommonName, "localhost");
    leaf_params.distinguished_name = leaf_name;
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut leaf_params);
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .context("could not sign the server certificate")?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![
        leaf_cert.der().clone(),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("could not choose TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("could not load the server certificate")?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(Authority {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(server_config),
    })
}

/// Makes `params` valid from yesterday to a year from now, so a clock check
/// on the certificate passes.
fn set_validity(params: &mut CertificateParams) {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let from = today.yesterday().unwrap_or(today);
    let to = today.saturating_add(jiff::Span::new().days(365));
    let ymd = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(
            i32::from(d.year()),
            u8::try_from(d.month()).unwrap_or(1),
            u8::try_from(d.day()).unwrap_or(1),
        )
    };
    params.not_before = ymd(from);
    params.not_after = ymd(to);
}

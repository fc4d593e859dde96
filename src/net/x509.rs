//! Just enough X.509 to describe a certificate as evidence: subject, issuer,
//! validity and the DNS names and addresses it covers.
//!
//! A small DER walker rather than a full parser crate: the tool never makes
//! trust decisions from this (rustls and webpki do), it only names what the
//! server presented, so a field it cannot read is simply left out.

use std::net::IpAddr;

/// A certificate, rendered for people.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Parsed {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub names: Vec<String>,
}

/// Reads a DER certificate; `None` when it is not one.
pub(crate) fn parse(der: &[u8]) -> Option<Parsed> {
    let (tag, cert, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, tbs, _) = tlv(cert)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = tbs;
    let (mut tag, mut body, mut next) = tlv(rest)?;
    if tag == 0xA0 {
        rest = next;
        (tag, body, next) = tlv(rest)?;
    }
    // serial, then signature algorithm
    if tag != 0x02 {
        return None;
    }
    let (_, _, after_alg) = tlv(next)?;
    let _ = body;
    let (_, issuer, r) = tlv(after_alg)?;
    let (_, validity, r) = tlv(r)?;
    let (_, subject, r) = tlv(r)?;
    let (_, _spki, mut r) = tlv(r)?;

    let (start_tag, start, vr) = tlv(validity)?;
    let (end_tag, end, _) = tlv(vr)?;
    let mut out = Parsed {
        subject: name(subject),
        issuer: name(issuer),
        not_before: time(start_tag, start).unwrap_or_default(),
        not_after: time(end_tag, end).unwrap_or_default(),
        names: Vec::new(),
    };
    while let Some((tag, body, next)) = tlv(r) {
        if tag == 0xA3 {
            out.names = subject_alt_names(body);
        }
        r = next;
    }
    Some(out)
}

/// Splits one tag-length-value off the front: (tag, value, rest).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, data) = data.split_first()?;
    let (&first, mut data) = data.split_first()?;
    let len = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || data.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &data[..n] {
            len = (len << 8) | usize::from(b);
        }
        data = &data[n..];
        len
    };
    if data.len() < len {
        return None;
    }
    Some((tag, &data[..len], &data[len..]))
}

/// Renders a Name most specific first, as RFC 4514 does: `CN=x, O=y, C=z`.
fn name(mut seq: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = tlv(seq) {
        let mut set_body = set;
        while let Some((_, atv, more)) = tlv(set_body) {
            if let Some((0x06, oid, value_part)) = tlv(atv)
                && let Some((_, value, _)) = tlv(value_part)
            {
                let value = String::from_utf8_lossy(value);
                parts.push(format!("{}={value}", attribute(oid)));
            }
            set_body = more;
        }
        seq = rest;
    }
    parts.reverse();
    parts.join(", ")
}

fn attribute(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0A] => "O".into(),
        [0x55, 0x04, 0x0B] => "OU".into(),
        other => dotted(other),
    }
}

fn dotted(oid: &[u8]) -> String {
    let Some((&first, rest)) = oid.split_first() else {
        return String::new();
    };
    let mut arcs = vec![u64::from(first / 40), u64::from(first % 40)];
    let mut acc = 0u64;
    for &b in rest {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `UTCTime` or `GeneralizedTime` as `YYYY-MM-DDTHH:MM:SSZ`.
fn time(tag: u8, v: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: u32 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let d = |i: usize| rest.get(i..i + 2);
    Some(format!(
        "{year:04}-{}-{}T{}:{}:{}Z",
        d(0)?,
        d(2)?,
        d(4)?,
        d(6)?,
        d(8)?
    ))
}

/// The DNS names and IP addresses of the subjectAltName extension.
fn subject_alt_names(explicit: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some((_, mut exts, _)) = tlv(explicit) else {
        return out;
    };
    while let Some((_, ext, rest)) = tlv(exts) {
        if let Some((0x06, [0x55, 0x1D, 0x11], after)) = tlv(ext) {
            let mut after = after;
            // skip the optional `critical` boolean
            if let Some((0x01, _, r)) = tlv(after) {
                after = r;
            }
            if let Some((0x04, octets, _)) = tlv(after)
                && let Some((_, mut names, _)) = tlv(octets)
            {
                while let Some((tag, value, more)) = tlv(names) {
                    match tag {
                        0x82 => out.push(String::from_utf8_lossy(value).into_owned()),
                        0x87 => {
                            if let Ok(b) = <[u8; 4]>::try_from(value) {
                                out.push(IpAddr::from(b).to_string());
                            } else if let Ok(b) = <[u8; 16]>::try_from(value) {
                                out.push(IpAddr::from(b).to_string());
                            }
                        }
                        _ => {}
                    }
                    names = more;
                }
            }
        }
        exts = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_rcgen_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "leaf test");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "rig");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let got = parse(cert.der()).unwrap();
        assert_eq!(got.subject, "O=rig, CN=leaf test");
        assert_eq!(got.issuer, got.subject);
        assert_eq!(got.names, ["localhost", "127.0.0.1"]);
        assert!(got.not_before.ends_with('Z'), "{}", got.not_before);
        assert!(got.not_after.starts_with("4096-01-01"), "{}", got.not_after);
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(parse(b"\x30\x82\xff"), None);
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn dotted_oid() {
        assert_eq!(
            dotted(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D]),
            "1.2.840.113549"
        );
    }
}

//! Webex resource ids: base64 of `ciscospark://us/<TYPE>/<uuid>`.
//!
//! Webex ids are unpadded standard base64 of a URI whose last path segment is
//! the CI UUID (webex-api.md 2.1). XSI addresses users by that bare UUID, so
//! both directions are needed. Decoding is lenient (padding optional, the
//! URL-safe alphabet accepted) because clients copy ids around by hand.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT};

/// The kinds of Webex resources the emulator hands out ids for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A person (`PEOPLE`).
    People,
    /// An organisation (`ORGANIZATION`).
    Organization,
    /// A calling location (`LOCATION`).
    Location,
    /// A licence (`LICENSE`); its tail is `<org uuid>:<TYPE>_<uuid>`.
    License,
    /// An admin role (`ROLE`); its tail is the role name.
    Role,
}

impl IdKind {
    /// The type segment of the decoded URI.
    #[must_use]
    pub fn segment(self) -> &'static str {
        match self {
            IdKind::People => "PEOPLE",
            IdKind::Organization => "ORGANIZATION",
            IdKind::Location => "LOCATION",
            IdKind::License => "LICENSE",
            IdKind::Role => "ROLE",
        }
    }
}

/// Encodes a Webex id: unpadded base64 of `ciscospark://us/<TYPE>/<tail>`.
#[must_use]
pub fn encode(kind: IdKind, tail: &str) -> String {
    let uri = format!("ciscospark://us/{}/{tail}", kind.segment());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(uri)
}

/// Decodes a Webex id into its type segment and tail (the last path segment).
///
/// Returns `None` when the text is not base64 of a `ciscospark://` URI.
#[must_use]
pub fn decode(id: &str) -> Option<(String, String)> {
    let bytes = STANDARD_NO_PAD_INDIFFERENT
        .decode(id)
        .or_else(|_| URL_SAFE_NO_PAD_INDIFFERENT.decode(id))
        .ok()?;
    let uri = String::from_utf8(bytes).ok()?;
    let rest = uri.strip_prefix("ciscospark://")?;
    let mut parts = rest.splitn(3, '/');
    let _region = parts.next()?;
    let kind = parts.next()?.to_owned();
    let tail = parts.next()?.to_owned();
    Some((kind, tail))
}

/// Decodes an id of the given kind and returns its tail (for people, the UUID).
#[must_use]
pub fn decode_kind(id: &str, kind: IdKind) -> Option<String> {
    let (segment, tail) = decode(id)?;
    (segment == kind.segment()).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_id_round_trips_and_is_unpadded() {
        let uuid = "f5b36187-c8dd-4727-8b2f-f9c447f29046";
        let id = encode(IdKind::People, uuid);
        assert_eq!(
            id,
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY"
        );
        assert!(!id.contains('='));
        assert_eq!(decode_kind(&id, IdKind::People).as_deref(), Some(uuid));
        assert_eq!(decode_kind(&id, IdKind::Organization), None);
    }

    #[test]
    fn decoding_accepts_padding_and_rejects_garbage() {
        let padded = format!("{}=", encode(IdKind::Role, "id_full_admin"));
        assert_eq!(
            decode(&padded),
            Some(("ROLE".to_owned(), "id_full_admin".to_owned()))
        );
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode("aGVsbG8"), None);
    }
}

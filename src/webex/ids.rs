//! Webex ids: base64 of `ciscospark://<region>/<TYPE>/<uuid>` (webex-api.md
//! 2.1 and 3.2).
//!
//! XSI addresses a Webex Calling user by the CI UUID, the last segment of
//! the decoded person id; the org UUID is the last segment of the decoded
//! org id. Ids come unpadded and in either base64 alphabet, so decoding
//! accepts both and adds the padding itself.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// A decoded Webex id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebexId {
    /// `us` for most ids.
    pub region: String,
    /// `PEOPLE`, `ORGANIZATION`, `LOCATION`, `LICENSE`, `ROLE`, ...
    pub kind: String,
    /// The last path segment: the CI UUID for people and organisations.
    pub uuid: String,
}

/// Decodes a Webex id; `None` when it is not base64 of a `ciscospark://` URI.
#[must_use]
pub fn decode(id: &str) -> Option<WebexId> {
    let trimmed = id.trim().trim_end_matches('=');
    let bytes = STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix("ciscospark://")?;
    let mut parts = rest.splitn(3, '/');
    let region = parts.next()?.to_owned();
    let kind = parts.next()?.to_owned();
    let path = parts.next()?;
    let uuid = path.rsplit('/').next()?.to_owned();
    if region.is_empty() || kind.is_empty() || uuid.is_empty() {
        return None;
    }
    Some(WebexId { region, kind, uuid })
}

/// The CI UUID behind a person id, which XSI takes as the user id.
#[must_use]
pub fn person_uuid(person_id: &str) -> Option<String> {
    decode(person_id)
        .filter(|id| id.kind == "PEOPLE")
        .map(|id| id.uuid)
}

/// Encodes `ciscospark://us/<kind>/<uuid>` the way Webex writes ids
/// (standard alphabet, no padding).
#[must_use]
pub fn encode(kind: &str, uuid: &str) -> String {
    STANDARD_NO_PAD.encode(format!("ciscospark://us/{kind}/{uuid}"))
}

/// Whether a plan endpoint is written as a person id rather than an email.
#[must_use]
pub fn looks_like_person_id(text: &str) -> bool {
    !text.contains('@') && person_uuid(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_people_ids_with_or_without_padding() {
        let uuid = "5a5b6f8e-0c1d-4e2f-9a3b-1c2d3e4f5a6b";
        let id = encode("PEOPLE", uuid);
        assert!(!id.ends_with('='));
        assert_eq!(person_uuid(&id).as_deref(), Some(uuid));
        assert_eq!(person_uuid(&format!("{id}==")).as_deref(), Some(uuid));
        let decoded = decode(&id).unwrap();
        assert_eq!(
            (decoded.region.as_str(), decoded.kind.as_str()),
            ("us", "PEOPLE")
        );
    }

    #[test]
    fn url_safe_alphabet_and_nested_paths_decode() {
        let raw = "ciscospark://us/CALL/BCLD/callhalf-488:0??>";
        let id = URL_SAFE_NO_PAD.encode(raw);
        assert!(id.contains('-') || id.contains('_'), "{id}");
        let decoded = decode(&id).unwrap();
        assert_eq!(decoded.kind, "CALL");
        assert_eq!(decoded.uuid, "callhalf-488:0??>");
    }

    #[test]
    fn rejects_what_is_not_an_id() {
        assert_eq!(decode("alice@example.com"), None);
        assert_eq!(decode("bm90IGFuIGlk"), None); // "not an id"
        assert_eq!(person_uuid(&encode("ORGANIZATION", "x")), None);
        assert!(!looks_like_person_id("alice@example.com"));
        assert!(looks_like_person_id(&encode("PEOPLE", "u1")));
    }
}

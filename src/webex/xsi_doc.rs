//! XSI documents: the XML of namespace `http://schema.broadsoft.com/xsi` and
//! its BadgerFish JSON form (webex-api.md 3.3, 3.4), read into one small
//! element tree, and the typed views the checks and the plan need
//! (`Profile`, `Calls`, `Call`, `CallStartInfo`, `ErrorInfo`).
//!
//! The XML reader is quick-xml, which never expands entities: a document
//! type declaration is refused outright (XSI never sends one, and it is
//! what a billion-laughs body needs), and a reference to anything but the
//! five predefined entities or a character is refused too. Depth and size
//! are bounded, so a hostile body costs one linear pass at most.

use std::fmt;

use quick_xml::events::Event;
use serde_json::Value;

/// The XSI namespace.
pub const XSI_NAMESPACE: &str = "http://schema.broadsoft.com/xsi";

/// Elements nested deeper than this are refused.
const MAX_DEPTH: usize = 64;
/// Bodies larger than this are refused (XSI answers are a few kilobytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// One element: its local name, its text and its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// The `xmlns` of the element, when it declares one.
    pub namespace: Option<String>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the child `name`, when present and not empty.
    #[must_use]
    pub fn leaf(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Why a body is not a usable XSI document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocError {
    /// Empty body.
    Empty,
    /// Larger than [`MAX_BODY`].
    TooLarge(usize),
    /// The XML declares a document type (entity definitions): refused.
    Doctype,
    /// A reference to an entity that would need a document type.
    Entity(String),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Not well-formed XML.
    Xml(String),
    /// Not JSON, or JSON that is not a BadgerFish document.
    Json(String),
    /// Neither XML nor JSON (an HTML page, plain text).
    NotADocument(String),
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocError::Empty => f.write_str("the body is empty"),
            DocError::TooLarge(n) => write!(f, "the body is {n} bytes, more than an xsi answer"),
            DocError::Doctype => {
                f.write_str("the xml declares a document type, which xsi never sends: refused")
            }
            DocError::Entity(name) => write!(f, "the xml refers to the entity &{name};: refused"),
            DocError::TooDeep => write!(f, "the xml nests deeper than {MAX_DEPTH} elements"),
            DocError::Xml(m) => write!(f, "the xml is not well-formed: {m}"),
            DocError::Json(m) => write!(f, "the json is not an xsi document: {m}"),
            DocError::NotADocument(start) => {
                write!(f, "the body is neither xml nor json (it starts {start:?})")
            }
        }
    }
}

/// Parses an XSI body, XML or BadgerFish JSON, by its first character.
pub fn parse(body: &[u8]) -> Result<Element, DocError> {
    if body.len() > MAX_BODY {
        return Err(DocError::TooLarge(body.len()));
    }
    let text = text_of(body);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    match trimmed.chars().next() {
        None => Err(DocError::Empty),
        Some('{') => parse_badgerfish(trimmed),
        Some('<') if looks_like_html(trimmed) => Err(DocError::NotADocument(excerpt(trimmed))),
        Some('<') => parse_xml(trimmed),
        Some(_) => Err(DocError::NotADocument(excerpt(trimmed))),
    }
}

/// The body as text: UTF-8, or ISO-8859-1 (which XSI declares) byte by byte.
fn text_of(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => body.iter().map(|&b| char::from(b)).collect(),
    }
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// The first characters of a body, for evidence.
#[must_use]
pub fn excerpt(text: &str) -> String {
    let one_line: String = text
        .chars()
        .take(60)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one_line.trim().to_owned()
}

/// Parses XML without expanding any entity.
pub fn parse_xml(text: &str) -> Result<Element, DocError> {
    let mut reader = quick_xml::Reader::from_str(text);
    // Text is kept as sent (trimming would eat the spaces around `&amp;`); leaves are trimmed when read.
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| DocError::Xml(e.to_string().to_lowercase()))?;
        match event {
            Event::DocType(_) => return Err(DocError::Doctype),
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(DocError::Xml("content after the root element".to_owned()));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(DocError::TooDeep);
                }
                stack.push(element_of(&start));
            }
            Event::Empty(start) => {
                let element = element_of(&start);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| DocError::Xml("an end tag without a start".to_owned()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => push_text(&mut stack, &String::from_utf8_lossy(&t))?,
            Event::CData(c) => push_text(&mut stack, &String::from_utf8_lossy(&c))?,
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| DocError::Xml(e.to_string().to_lowercase()))?
                } else {
                    predefined(&String::from_utf8_lossy(&r))
                };
                match resolved {
                    Some(c) => push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?,
                    None => return Err(DocError::Entity(String::from_utf8_lossy(&r).into_owned())),
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(DocError::Xml(
            "the document ends inside an element (truncated)".to_owned(),
        ));
    }
    root.ok_or_else(|| DocError::Xml("no root element".to_owned()))
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), DocError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(DocError::Xml("text outside the root element".to_owned())),
    }
}

fn element_of(start: &quick_xml::events::BytesStart<'_>) -> Element {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let namespace = start.attributes().flatten().find_map(|a| {
        (a.key.as_ref() == b"xmlns").then(|| String::from_utf8_lossy(&a.value).into_owned())
    });
    Element {
        name,
        namespace,
        ..Element::default()
    }
}

/// Parses BadgerFish JSON: `{"Root": {"leaf": {"$": "v"}, "list": [..]}}`;
/// a single-item list may come as an object.
pub fn parse_badgerfish(text: &str) -> Result<Element, DocError> {
    let value: Value = serde_json::from_str(text).map_err(|e| DocError::Json(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(DocError::Json("the top level is not an object".to_owned()));
    };
    let mut roots = map.into_iter().filter(|(k, _)| !k.starts_with('@'));
    let (name, body) = roots
        .next()
        .ok_or_else(|| DocError::Json("the object is empty".to_owned()))?;
    let mut root = from_badgerfish(&name, &body, 0)?;
    root.namespace = root.namespace.or_else(|| namespace_of(&body));
    Ok(root)
}

fn namespace_of(value: &Value) -> Option<String> {
    let ns = value.get("@xmlns")?;
    ns.get("$")
        .and_then(Value::as_str)
        .or_else(|| ns.as_str())
        .map(str::to_owned)
}

fn from_badgerfish(name: &str, value: &Value, depth: usize) -> Result<Element, DocError> {
    if depth >= MAX_DEPTH {
        return Err(DocError::TooDeep);
    }
    let mut element = Element {
        name: local(name).to_owned(),
        ..Element::default()
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$" {
                    element.text = scalar(child);
                } else if key.starts_with('@') {
                    // Attributes (`@xmlns`, `@xsi1:type`): read below or unused.
                } else if let Value::Array(items) = child {
                    for item in items {
                        element
                            .children
                            .push(from_badgerfish(key, item, depth + 1)?);
                    }
                } else {
                    element
                        .children
                        .push(from_badgerfish(key, child, depth + 1)?);
                }
            }
            element.namespace = namespace_of(value);
        }
        Value::Null => {}
        other => element.text = scalar(other),
    }
    Ok(element)
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `ErrorInfo`: XSI's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    pub summary: Option<String>,
    pub summary_english: Option<String>,
    pub error_code: Option<String>,
}

impl ErrorInfo {
    /// Reads an `ErrorInfo` document; unknown children are ignored.
    #[must_use]
    pub fn from_element(doc: &Element) -> Option<Self> {
        (doc.name == "ErrorInfo").then(|| ErrorInfo {
            summary: doc.leaf("summary").map(str::to_owned),
            summary_english: doc.leaf("summaryEnglish").map(str::to_owned),
            error_code: doc.leaf("errorCode").map(str::to_owned),
        })
    }

    /// `summary (errorCode N)`, for evidence and results.
    #[must_use]
    pub fn describe(&self) -> String {
        let summary = self
            .summary_english
            .as_deref()
            .or(self.summary.as_deref())
            .unwrap_or("(no summary)");
        match &self.error_code {
            Some(code) => format!("{summary} (errorCode {code})"),
            None => summary.to_owned(),
        }
    }
}

/// The parts of `Profile` the checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub number: Option<String>,
    pub extension: Option<String>,
}

impl Profile {
    /// Reads a `Profile` document.
    #[must_use]
    pub fn from_element(doc: &Element) -> Option<Self> {
        if doc.name != "Profile" {
            return None;
        }
        let details = doc.child("details");
        let leaf = |name: &str| details.and_then(|d| d.leaf(name)).map(str::to_owned);
        Some(Profile {
            user_id: leaf("userId"),
            group_id: leaf("groupId"),
            number: leaf("number"),
            extension: leaf("extension"),
        })
    }
}

/// One call in a `Calls` list or a `Call` document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallInfo {
    pub call_id: String,
    pub personality: Option<String>,
    pub state: Option<String>,
    pub remote_address: Option<String>,
}

impl CallInfo {
    /// Reads a `Call` document (or a `call` item of a list).
    #[must_use]
    pub fn from_element(doc: &Element) -> Option<Self> {
        Some(CallInfo {
            call_id: doc.leaf("callId")?.to_owned(),
            personality: doc.leaf("personality").map(str::to_owned),
            state: doc.leaf("state").map(str::to_owned),
            remote_address: doc
                .child("remoteParty")
                .and_then(|r| r.leaf("address"))
                .map(str::to_owned),
        })
    }

    /// Whether the leg is alerting (ringing), in any spelling XSI uses.
    #[must_use]
    pub fn is_alerting(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("alerting"))
    }

    /// Whether the leg is connected.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("active"))
    }

    /// Whether this is the caller's own leg still ringing its device.
    #[must_use]
    pub fn is_click_to_dial(&self) -> bool {
        self.personality.as_deref().is_some_and(|p| {
            let p: String = p.chars().filter(char::is_ascii_alphanumeric).collect();
            p.eq_ignore_ascii_case("clicktodial")
        })
    }

    /// Whether this leg is the called party's.
    #[must_use]
    pub fn is_terminator(&self) -> bool {
        self.personality
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("terminator"))
    }
}

/// The calls of a `Calls` document; no `call` child means no calls.
#[must_use]
pub fn calls_of(doc: &Element) -> Option<Vec<CallInfo>> {
    (doc.name == "Calls").then(|| {
        doc.children_named("call")
            .filter_map(CallInfo::from_element)
            .collect()
    })
}

/// The call id of a `CallStartInfo` document.
#[must_use]
pub fn started_call_id(doc: &Element) -> Option<String> {
    (doc.name == "CallStartInfo")
        .then(|| doc.leaf("callId").map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const ERROR_XML: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<ErrorInfo xmlns="http://schema.broadsoft.com/xsi">
  <summary>[Error 4410] Access &amp; more</summary><summaryEnglish>[Error 4410] Access</summaryEnglish><errorCode>4410</errorCode>
</ErrorInfo>"#;

    #[test]
    fn error_info_in_xml() {
        let doc = parse(ERROR_XML.as_bytes()).unwrap();
        assert_eq!(doc.namespace.as_deref(), Some(XSI_NAMESPACE));
        let info = ErrorInfo::from_element(&doc).unwrap();
        assert_eq!(info.summary.as_deref(), Some("[Error 4410] Access & more"));
        assert_eq!(info.error_code.as_deref(), Some("4410"));
        assert_eq!(info.describe(), "[Error 4410] Access (errorCode 4410)");
    }

    #[test]
    fn error_info_in_badgerfish_with_unexpected_fields() {
        let body = r#"{"ErrorInfo":{"@xmlns":{"$":"http://schema.broadsoft.com/xsi"},
            "summary":{"$":"denied"},"errorCode":{"$":4102},"extra":{"nested":[1,2]},
            "summaryEnglish":null}}"#;
        let doc = parse(body.as_bytes()).unwrap();
        assert_eq!(doc.namespace.as_deref(), Some(XSI_NAMESPACE));
        let info = ErrorInfo::from_element(&doc).unwrap();
        assert_eq!(info.describe(), "denied (errorCode 4102)");
    }

    #[test]
    fn calls_single_and_many() {
        let one =
            r#"{"Calls":{"call":{"callId":{"$":"callhalf-1:0"},"extTrackingId":{"$":"1:1"}}}}"#;
        let calls = calls_of(&parse(one.as_bytes()).unwrap()).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].call_id, "callhalf-1:0");
        let many = r#"<Calls xmlns="http://schema.broadsoft.com/xsi"><call><callId>a</callId></call><call><callId>b</callId></call></Calls>"#;
        assert_eq!(calls_of(&parse(many.as_bytes()).unwrap()).unwrap().len(), 2);
        let none = r#"<Calls xmlns="http://schema.broadsoft.com/xsi"/>"#;
        assert!(
            calls_of(&parse(none.as_bytes()).unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn call_states_and_personalities() {
        let xml = r#"<Call xmlns="http://schema.broadsoft.com/xsi" xmlns:xsi1="http://www.w3.org/2001/XMLSchema-instance">
          <callId>c1</callId><personality>Click-to-Dial</personality><state>Alerting</state>
          <remoteParty><address>tel:+15550101</address></remoteParty>
          <endpoint xsi1:type="xsi:AccessEndpoint"><addressOfRecord>x</addressOfRecord></endpoint></Call>"#;
        let call = CallInfo::from_element(&parse(xml.as_bytes()).unwrap()).unwrap();
        assert!(call.is_click_to_dial() && call.is_alerting() && !call.is_active());
        assert_eq!(call.remote_address.as_deref(), Some("tel:+15550101"));
    }

    #[test]
    fn profile_details() {
        let xml = "<Profile xmlns=\"http://schema.broadsoft.com/xsi\"><details><userId>u@x</userId>\
                   <extension>1001</extension><number>5550101</number></details></Profile>";
        let profile = Profile::from_element(&parse(xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(profile.extension.as_deref(), Some("1001"));
        assert_eq!(profile.user_id.as_deref(), Some("u@x"));
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut xml =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            xml.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        xml.push_str("]>\n<ErrorInfo>&lol9;</ErrorInfo>");
        let began = Instant::now();
        assert_eq!(parse(xml.as_bytes()), Err(DocError::Doctype));
        assert!(began.elapsed() < Duration::from_millis(100));
        // Without the declaration, the reference alone is refused too.
        let bare = "<ErrorInfo><summary>&lol9;</summary></ErrorInfo>";
        assert_eq!(parse(bare.as_bytes()), Err(DocError::Entity("lol9".into())));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(matches!(
            parse(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"),
            Err(DocError::NotADocument(_))
        ));
        assert!(matches!(
            parse(b"<Calls><call><callId>a</callId>"),
            Err(DocError::Xml(_))
        ));
        assert!(matches!(
            parse(b"{\"Calls\": {\"call\""),
            Err(DocError::Json(_))
        ));
        assert_eq!(parse(b"  "), Err(DocError::Empty));
        assert!(matches!(
            parse(b"Service Unavailable"),
            Err(DocError::NotADocument(_))
        ));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(parse(deep.as_bytes()), Err(DocError::TooDeep));
    }

    #[test]
    fn latin1_bodies_decode() {
        let mut body = b"<ErrorInfo><summary>caf".to_vec();
        body.push(0xE9);
        body.extend_from_slice(b"</summary></ErrorInfo>");
        let info = ErrorInfo::from_element(&parse(&body).unwrap()).unwrap();
        assert_eq!(info.summary.as_deref(), Some("café"));
    }
}

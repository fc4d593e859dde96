//! XSI documents: one element tree, rendered as XML or as `BadgerFish` JSON.
//!
//! XSI-Actions answers XML in the namespace `http://schema.broadsoft.com/xsi`
//! by default and `BadgerFish` JSON when asked (`format=json` or
//! `Accept: application/json`), webex-api.md 3.3. Building each answer once as
//! a tree and rendering it either way keeps the two forms from drifting apart.
//! `BadgerFish`: a leaf is `{"$": "text"}`, an attribute is `"@name": "value"`,
//! the root's namespace is `"@xmlns": {"$": uri}`, one child of a name is an
//! object and several are an array.

use serde_json::{Map, Value};

/// The XSI namespace.
pub const XSI_NAMESPACE: &str = "http://schema.broadsoft.com/xsi";

/// The XML Schema instance namespace, used for `xsi1:type` attributes.
pub const XML_SCHEMA_INSTANCE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// An element of an XSI document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: Option<String>,
    children: Vec<Element>,
}

impl Element {
    /// An element with no content yet.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_owned(),
            attributes: Vec::new(),
            text: None,
            children: Vec::new(),
        }
    }

    /// A leaf element holding `text`.
    #[must_use]
    pub fn leaf(name: &str, text: impl Into<String>) -> Self {
        Element {
            text: Some(text.into()),
            ..Element::new(name)
        }
    }

    /// Adds a child.
    #[must_use]
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// Adds a leaf child.
    #[must_use]
    pub fn with_leaf(self, name: &str, text: impl Into<String>) -> Self {
        self.child(Element::leaf(name, text))
    }

    /// Adds an attribute.
    #[must_use]
    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Renders a whole document, the root in the XSI namespace.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write_xml(&mut out, true);
        out
    }

    fn write_xml(&self, out: &mut String, root: bool) {
        out.push('<');
        out.push_str(&self.name);
        if root {
            out.push_str(" xmlns=\"");
            out.push_str(XSI_NAMESPACE);
            out.push('"');
        }
        for (name, value) in &self.attributes {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(&escape(value));
            out.push('"');
        }
        if self.text.is_none() && self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        if let Some(text) = &self.text {
            out.push_str(&escape(text));
        }
        for child in &self.children {
            child.write_xml(out, false);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Renders a whole document as `BadgerFish` JSON.
    #[must_use]
    pub fn to_badgerfish(&self) -> Value {
        let mut body = self.badgerfish_body();
        if let Value::Object(map) = &mut body {
            let mut ns = Map::new();
            ns.insert("$".to_owned(), Value::String(XSI_NAMESPACE.to_owned()));
            map.insert("@xmlns".to_owned(), Value::Object(ns));
        }
        let mut root = Map::new();
        root.insert(self.name.clone(), body);
        Value::Object(root)
    }

    fn badgerfish_body(&self) -> Value {
        let mut map = Map::new();
        for (name, value) in &self.attributes {
            map.insert(format!("@{name}"), Value::String(value.clone()));
        }
        if let Some(text) = &self.text {
            map.insert("$".to_owned(), Value::String(text.clone()));
        }
        for child in &self.children {
            let value = child.badgerfish_body();
            match map.get_mut(&child.name) {
                None => {
                    map.insert(child.name.clone(), value);
                }
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
            }
        }
        Value::Object(map)
    }
}

/// Escapes text for XML content and attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The `ErrorInfo` document XSI answers on errors (webex-api.md 3.4).
#[must_use]
pub fn error_info(summary: &str, error_code: u32) -> Element {
    Element::new("ErrorInfo")
        .with_leaf("summary", summary)
        .with_leaf("summaryEnglish", summary)
        .with_leaf("errorCode", error_code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xml_is_namespaced_and_escaped() {
        let doc = error_info("a <b> & c", 4008);
        assert_eq!(
            doc.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorInfo xmlns=\"http://schema.broadsoft.com/xsi\">\
             <summary>a &lt;b&gt; &amp; c</summary><summaryEnglish>a &lt;b&gt; &amp; c</summaryEnglish>\
             <errorCode>4008</errorCode></ErrorInfo>"
        );
    }

    #[test]
    fn badgerfish_groups_repeated_children() {
        let one = Element::new("Calls").child(Element::new("call").with_leaf("callId", "a"));
        assert_eq!(
            one.to_badgerfish(),
            json!({"Calls": {"@xmlns": {"$": XSI_NAMESPACE}, "call": {"callId": {"$": "a"}}}})
        );
        let two = one.child(Element::new("call").with_leaf("callId", "b"));
        assert_eq!(
            two.to_badgerfish(),
            json!({"Calls": {"@xmlns": {"$": XSI_NAMESPACE},
                "call": [{"callId": {"$": "a"}}, {"callId": {"$": "b"}}]}})
        );
        let empty = Element::new("Calls");
        assert_eq!(
            empty.to_xml().lines().nth(1),
            Some("<Calls xmlns=\"http://schema.broadsoft.com/xsi\"/>")
        );
    }

    #[test]
    fn attributes_render_both_ways() {
        let doc = Element::new("Call").child(
            Element::new("endpoint")
                .attribute("xsi1:type", "xsi:AccessEndpoint")
                .with_leaf("addressOfRecord", "x@y"),
        );
        assert!(
            doc.to_xml()
                .contains("<endpoint xsi1:type=\"xsi:AccessEndpoint\">")
        );
        assert_eq!(
            doc.to_badgerfish()["Call"]["endpoint"]["@xsi1:type"],
            json!("xsi:AccessEndpoint")
        );
    }
}

//! The `redirect-url` check: the redirect URL has no stray whitespace or
//! invisible characters, is a valid absolute http(s) URL, uses https unless
//! it points at the loopback interface, and equals `expected_redirect_url`
//! byte for byte.
//!
//! The check reads the raw string from the file. The `url` crate trims
//! leading and trailing spaces and drops tabs and newlines silently, while
//! the OAuth request sends the string as written: a URL that parses fine
//! here can still be a mismatch at the identity service.

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::config::Config;
use crate::finding::Finding;
use crate::net::is_loopback;

/// See the module documentation.
pub struct RedirectUrlCheck;

impl Check for RedirectUrlCheck {
    fn id(&self) -> &'static str {
        "redirect-url"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["config"]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async move {
            match ctx.config() {
                Ok(config) => inspect(config),
                Err(outcome) => outcome,
            }
        })
    }
}

/// A character that does not belong in a URL someone copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// 0-based index in characters.
    pub index: usize,
    /// 0-based byte offset.
    pub byte: usize,
    pub ch: char,
}

impl Stray {
    /// `U+00A0 NO-BREAK SPACE`.
    #[must_use]
    pub fn describe(&self) -> String {
        let code = format!("U+{:04X}", u32::from(self.ch));
        match char_name(self.ch) {
            Some(name) => format!("{code} {name}"),
            None => code,
        }
    }
}

/// Where stray characters sit in the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Leading,
    Trailing,
    Embedded,
}

fn inspect(config: &Config) -> Outcome {
    let mut outcome = Outcome::new();
    let Some(interface) = config.interface() else {
        return Outcome::skipped("the configuration has no [interface] table");
    };
    let raw = interface.redirect_url.get_ref();
    let (line, column) = config.position(interface.redirect_url.span().start);
    outcome.evidence("redirect_url", visible(raw));
    outcome.evidence(
        "position in config",
        format!("line {line}, column {column}"),
    );

    let strays = find_strays(raw);
    let expected = interface
        .expected_redirect_url
        .as_ref()
        .map(|e| e.get_ref().as_str());
    if !strays.is_empty() {
        let mut finding = whitespace_finding(raw, &strays);
        if expected.is_some_and(|e| same_without_strays(raw, e)) {
            finding = finding.with(
                "expected_redirect_url",
                "identical once the stray characters are removed",
            );
        }
        outcome.finding(finding);
    }
    let cleaned: String = raw.chars().filter(|c| !is_stray(*c)).collect();
    match check_shape(&cleaned) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default().to_owned();
            let loopback = is_loopback(&host);
            outcome.evidence("scheme", url.scheme().to_owned());
            outcome.evidence(
                "host",
                format!(
                    "{host} ({})",
                    if loopback { "loopback" } else { "not loopback" }
                ),
            );
            if url.scheme() == "http" && !loopback {
                outcome.finding(
                    Finding::new(
                        "redirect-url.insecure",
                        format!(
                            "the redirect URL uses http to {host}, which is not the loopback \
                             interface: the authorization code would cross the network in clear text"
                        ),
                    )
                    .with("scheme", "http")
                    .with("host", host),
                );
            }
        }
        Err(finding) => outcome.finding(*finding),
    }

    match expected {
        Some(expected) => {
            outcome.evidence("expected_redirect_url", visible(expected));
            // A difference made only of stray characters is the whitespace
            // finding's root cause, reported once.
            let only_strays = !strays.is_empty() && same_without_strays(raw, expected);
            if raw.as_bytes() != expected.as_bytes() && !only_strays {
                outcome.finding(mismatch_finding(raw, expected));
            }
        }
        None => outcome.evidence(
            "expected_redirect_url",
            "not set: the byte-for-byte comparison with the harness was not made",
        ),
    }
    outcome
}

/// Whitespace, invisible formatting characters and controls.
#[must_use]
pub fn is_stray(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Every stray character of `raw`, in order.
#[must_use]
pub fn find_strays(raw: &str) -> Vec<Stray> {
    raw.char_indices()
        .enumerate()
        .filter(|(_, (_, ch))| is_stray(*ch))
        .map(|(index, (byte, ch))| Stray { index, byte, ch })
        .collect()
}

/// Where a stray character sits, given the string's length in characters.
#[must_use]
pub fn placement(raw: &str, stray: &Stray) -> Placement {
    let chars: Vec<char> = raw.chars().collect();
    if chars[..stray.index].iter().all(|c| is_stray(*c)) {
        Placement::Leading
    } else if chars[stray.index + 1..].iter().all(|c| is_stray(*c)) {
        Placement::Trailing
    } else {
        Placement::Embedded
    }
}

/// How many stray characters the evidence lists one by one.
const SHOWN: usize = 10;

fn whitespace_finding(raw: &str, strays: &[Stray]) -> Finding {
    let places: Vec<&str> = {
        let mut seen = Vec::new();
        for stray in strays {
            let name = match placement(raw, stray) {
                Placement::Leading => "leading",
                Placement::Trailing => "trailing",
                Placement::Embedded => "embedded",
            };
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        seen
    };
    let first = &strays[0];
    let summary = format!(
        "the redirect URL has {} stray character{} ({}), the first {} at position {}",
        strays.len(),
        if strays.len() == 1 { "" } else { "s" },
        places.join(", "),
        first.describe(),
        first.index + 1,
    );
    let mut finding = Finding::new("redirect-url.whitespace", summary);
    for stray in strays.iter().take(SHOWN) {
        let place = match placement(raw, stray) {
            Placement::Leading => "leading",
            Placement::Trailing => "trailing",
            Placement::Embedded => "embedded",
        };
        finding = finding.with(
            "stray character",
            format!(
                "{} at position {} (byte {}), {place}",
                stray.describe(),
                stray.index + 1,
                stray.byte
            ),
        );
    }
    if strays.len() > SHOWN {
        finding = finding.with(
            "stray character",
            format!("… and {} more", strays.len() - SHOWN),
        );
    }
    let cleaned: String = raw.chars().filter(|c| !is_stray(*c)).collect();
    finding
        .with("as written", visible(raw))
        .with("without them", cleaned)
}

/// Checks that the URL is absolute http(s) with a host and no fragment.
fn check_shape(cleaned: &str) -> Result<url::Url, Box<Finding>> {
    let malformed = |summary: String| {
        Box::new(
            Finding::new("redirect-url.malformed", summary)
                .with("redirect_url", cleaned.to_owned()),
        )
    };
    if cleaned.is_empty() {
        return Err(malformed("the redirect URL is empty".to_owned()));
    }
    let url = match url::Url::parse(cleaned) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(malformed(format!(
                "the redirect URL {cleaned:?} is relative: it needs a scheme and host, \
                 like http://localhost:6001/redirect"
            )));
        }
        Err(e) => {
            return Err(malformed(format!(
                "the redirect URL {cleaned:?} does not parse: {e}"
            )));
        }
    };
    let scheme = url.scheme();
    if !matches!(scheme, "http" | "https") {
        let hint = if cleaned.contains("://") {
            format!("its scheme {scheme:?} is not http or https")
        } else {
            format!(
                "it has no scheme: {cleaned:?} reads as scheme {scheme:?}; \
                 write it as http://{cleaned} or https://{cleaned}"
            )
        };
        return Err(malformed(format!(
            "the redirect URL is not an absolute http(s) URL: {hint}"
        )));
    }
    let prefix = format!("{scheme}://");
    if !cleaned
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
    {
        return Err(malformed(format!(
            "the redirect URL {cleaned:?} does not start with {prefix}: a browser may read \
             it differently from the identity service"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(malformed(format!(
            "the redirect URL {cleaned:?} names no host"
        )));
    }
    if url.fragment().is_some() {
        return Err(malformed(format!(
            "the redirect URL {cleaned:?} has a fragment (#…), which OAuth forbids in a \
             redirect URI"
        )));
    }
    Ok(url)
}

fn mismatch_finding(raw: &str, expected: &str) -> Finding {
    let (a, b) = (raw.as_bytes(), expected.as_bytes());
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let mut finding = Finding::new(
        "redirect-url.mismatch",
        format!(
            "the redirect URL differs from expected_redirect_url at byte {first}: {}",
            explain_difference(raw, expected)
        ),
    )
    .with("redirect_url", visible(raw))
    .with("expected_redirect_url", visible(expected))
    .with(
        "first difference",
        format!(
            "byte {first}: {} vs {}",
            byte_at(a, first),
            byte_at(b, first)
        ),
    );
    if let (Ok(x), Ok(y)) = (
        url::Url::parse(raw.trim()),
        url::Url::parse(expected.trim()),
    ) {
        for (part, left, right) in [
            ("scheme", x.scheme().to_owned(), y.scheme().to_owned()),
            (
                "host",
                x.host_str().unwrap_or_default().to_owned(),
                y.host_str().unwrap_or_default().to_owned(),
            ),
            ("port", port_text(&x), port_text(&y)),
            ("path", x.path().to_owned(), y.path().to_owned()),
        ] {
            if left != right {
                finding = finding.with(part, format!("{left} vs {right}"));
            }
        }
    }
    finding
}

fn port_text(url: &url::Url) -> String {
    url.port_or_known_default()
        .map_or_else(|| "none".to_owned(), |p| p.to_string())
}

fn byte_at(bytes: &[u8], at: usize) -> String {
    bytes.get(at).map_or_else(
        || "end of string".to_owned(),
        |b| format!("0x{b:02X} {:?}", char::from(*b)),
    )
}

fn same_without_strays(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| !is_stray(*c))
        .eq(b.chars().filter(|c| !is_stray(*c)))
}

/// The most specific reason two URLs differ.
#[must_use]
pub fn explain_difference(raw: &str, expected: &str) -> String {
    if same_without_strays(raw, expected) {
        return "they differ only in stray whitespace or invisible characters".to_owned();
    }
    if raw.trim_end_matches('/') == expected.trim_end_matches('/') {
        return if raw.ends_with('/') {
            "the redirect URL has a trailing slash the expected one lacks".to_owned()
        } else {
            "the expected URL has a trailing slash the redirect URL lacks".to_owned()
        };
    }
    if raw.eq_ignore_ascii_case(expected) {
        return "they differ only in letter case (paths are case-sensitive)".to_owned();
    }
    if let (Ok(x), Ok(y)) = (url::Url::parse(raw), url::Url::parse(expected)) {
        if x.scheme() != y.scheme() {
            return format!("the scheme differs ({} vs {})", x.scheme(), y.scheme());
        }
        if x.host_str() != y.host_str() {
            return format!(
                "the host differs ({} vs {})",
                x.host_str().unwrap_or_default(),
                y.host_str().unwrap_or_default()
            );
        }
        if x.port_or_known_default() != y.port_or_known_default() {
            return format!("the port differs ({} vs {})", port_text(&x), port_text(&y));
        }
        if x.path() != y.path() {
            return format!("the path differs ({} vs {})", x.path(), y.path());
        }
        if x == y {
            return "they are the same URL once normalised (a default port written out, \
                    letter case of the scheme or host, escaping), but not the same bytes, \
                    and the identity service compares bytes"
                .to_owned();
        }
    }
    "the strings are not identical".to_owned()
}

/// The string with every stray character written as `⟨U+XXXX⟩`, so a
/// person can see what is there.
#[must_use]
pub fn visible(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if is_stray(c) {
            out.push_str(&format!("⟨U+{:04X}⟩", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn char_name(c: char) -> Option<&'static str> {
    Some(match c {
        ' ' => "SPACE",
        '\t' => "CHARACTER TABULATION (tab)",
        '\n' => "LINE FEED",
        '\r' => "CARRIAGE RETURN",
        '\u{0B}' => "LINE TABULATION",
        '\u{0C}' => "FORM FEED",
        '\u{85}' => "NEXT LINE",
        '\u{A0}' => "NO-BREAK SPACE",
        '\u{AD}' => "SOFT HYPHEN",
        '\u{1680}' => "OGHAM SPACE MARK",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{2000}'..='\u{200A}' => "typographic SPACE (en, em, thin, hair...)",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202F}' => "NARROW NO-BREAK SPACE",
        '\u{205F}' => "MEDIUM MATHEMATICAL SPACE",
        '\u{2060}' => "WORD JOINER",
        '\u{3000}' => "IDEOGRAPHIC SPACE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE (byte order mark)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    fn outcome_for(redirect: &str, expected: Option<&str>) -> Outcome {
        let mut text = format!(
            "[interface]\nclient_id = \"C{}\"\nclient_secret_env = \"S\"\nredirect_url = {}\n",
            "0".repeat(64),
            toml_string(redirect)
        );
        if let Some(expected) = expected {
            text.push_str(&format!(
                "expected_redirect_url = {}\n",
                toml_string(expected)
            ));
        }
        let loaded = crate::config::parse(
            "/tmp/wxc-preflight.toml".into(),
            text,
            crate::checks::SCOPE_PROFILES,
            &|_| Some("x".into()),
        );
        inspect(&loaded.config.expect("config parses"))
    }

    fn toml_string(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn codes(outcome: &Outcome) -> Vec<&'static str> {
        outcome.findings.iter().map(|f| f.code).collect()
    }

    const GOOD: &str = "http://localhost:6001/redirect";

    #[test]
    fn a_clean_loopback_url_passes() {
        let outcome = outcome_for(GOOD, Some(GOOD));
        assert_eq!(outcome.status(), Status::Pass, "{:?}", outcome.findings);
    }

    #[test]
    fn every_kind_of_stray_character_is_caught_with_its_position() {
        let cases: &[(&str, char, &str)] = &[
            ("ASCII space", ' ', "U+0020 SPACE"),
            ("tab", '\t', "U+0009"),
            ("carriage return", '\r', "U+000D CARRIAGE RETURN"),
            ("line feed", '\n', "U+000A LINE FEED"),
            ("no-break space", '\u{A0}', "U+00A0 NO-BREAK SPACE"),
            ("zero width space", '\u{200B}', "U+200B ZERO WIDTH SPACE"),
            ("byte order mark", '\u{FEFF}', "U+FEFF"),
            ("ideographic space", '\u{3000}', "U+3000 IDEOGRAPHIC SPACE"),
        ];
        for (name, ch, described) in cases {
            for (place, url, position) in [
                ("leading", format!("{ch}{GOOD}"), 1),
                ("trailing", format!("{GOOD}{ch}"), GOOD.len() + 1),
                (
                    "embedded",
                    format!("http://localhost:6001/re{ch}direct"),
                    25,
                ),
            ] {
                let outcome = outcome_for(&url, None);
                let finding = outcome
                    .findings
                    .iter()
                    .find(|f| f.code == "redirect-url.whitespace")
                    .unwrap_or_else(|| panic!("{name} {place} not caught"));
                let evidence = &finding.evidence[0].value;
                assert!(evidence.contains(described), "{name} {place}: {evidence}");
                assert!(
                    evidence.contains(&format!("position {position} ")),
                    "{name} {place}: {evidence}"
                );
                assert!(evidence.ends_with(place), "{name}: {evidence}");
                assert_eq!(outcome.status(), Status::Fail);
            }
        }
    }

    #[test]
    fn relative_and_scheme_less_urls_are_malformed() {
        for url in [
            "/redirect",
            "localhost:6001/redirect",
            "ftp://host/x",
            "http:/localhost/x",
            "",
            "http://localhost/#frag",
        ] {
            let outcome = outcome_for(url, None);
            assert_eq!(codes(&outcome), ["redirect-url.malformed"], "{url:?}");
        }
        let outcome = outcome_for("localhost:6001/redirect", None);
        assert!(
            outcome.findings[0].summary.contains("no scheme"),
            "{}",
            outcome.findings[0].summary
        );
    }

    #[test]
    fn http_is_only_for_loopback() {
        for url in [
            "http://127.0.0.1:6001/r",
            "http://[::1]:6001/r",
            "http://app.localhost/r",
            "https://harness.corp/r",
        ] {
            assert_eq!(codes(&outcome_for(url, None)), Vec::<&str>::new(), "{url}");
        }
        let outcome = outcome_for("http://harness.corp:6001/redirect", None);
        assert_eq!(codes(&outcome), ["redirect-url.insecure"]);
        assert_eq!(outcome.status(), Status::Warn);
    }

    #[test]
    fn any_byte_difference_from_the_expected_url_is_a_mismatch() {
        let cases = [
            ("http://localhost:6001/redirect/", "trailing slash"),
            (
                "http://localhost:6002/redirect",
                "port differs (6002 vs 6001)",
            ),
            ("http://localhost:6001/Redirect", "letter case"),
            ("https://localhost:6001/redirect", "scheme differs"),
        ];
        for (url, why) in cases {
            let outcome = outcome_for(url, Some(GOOD));
            let finding = outcome
                .findings
                .iter()
                .find(|f| f.code == "redirect-url.mismatch")
                .expect(url);
            assert!(finding.summary.contains(why), "{url}: {}", finding.summary);
        }
        let outcome = outcome_for(
            "http://localhost:80/redirect",
            Some("http://localhost/redirect"),
        );
        assert!(
            outcome.findings[0]
                .summary
                .contains("same URL once normalised"),
            "{}",
            outcome.findings[0].summary
        );
    }

    #[test]
    fn a_difference_of_stray_characters_only_is_one_root_cause() {
        let outcome = outcome_for("http://localhost:6001/redirect ", Some(GOOD));
        assert_eq!(codes(&outcome), ["redirect-url.whitespace"]);
        let outcome = outcome_for("http://localhost:6001/redirect/ ", Some(GOOD));
        assert_eq!(
            codes(&outcome),
            ["redirect-url.whitespace", "redirect-url.mismatch"]
        );
    }

    #[test]
    fn visible_marks_invisible_characters() {
        assert_eq!(visible("a\u{A0}b"), "a⟨U+00A0⟩b");
    }
}

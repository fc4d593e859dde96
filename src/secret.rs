//! Secrets: client secrets, proxy passwords, tokens.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`, so a
//! secret that ends up in a log line or a report by mistake prints
//! "(redacted)" instead. The value is only reachable through
//! [`Secret::expose`], which makes every use easy to find.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A secret string, zeroed on drop, redacted in `Debug` and `Display`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret value itself. Only for building a request or a hash.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The last four characters, the most evidence may show of a token;
    /// nothing for a secret of eight characters or fewer.
    #[must_use]
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.expose().chars().collect();
        if chars.len() <= 8 {
            return "(redacted)".to_owned();
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "(redacted)");
        assert_eq!(format!("{secret}"), "(redacted)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some((redacted))");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn hint_shows_at_most_four_characters() {
        assert_eq!(Secret::new("abcdefghijkl").hint(), "…ijkl");
        assert_eq!(Secret::new("short").hint(), "(redacted)");
    }
}

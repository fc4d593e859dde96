//! Durations as people write them in the config and on the command line:
//! `"500ms"`, `"5s"`, `"2m"`, `"1h30m"`, `"7d"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a duration such as `5s`, `2m`, `7d` or `1h 30m`. A day counts as
/// 24 hours. A bare number is refused: the unit must be explicit.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration: write it like \"5s\", \"2m\" or \"7d\"".to_owned());
    }
    if trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "duration {trimmed:?} has no unit: write it like \"{trimmed}s\" or \"{trimmed}m\""
        ));
    }
    let span: jiff::Span = trimmed.parse().map_err(|e| {
        format!(
            "invalid duration {trimmed:?}: {e}\nwrite it like \"5s\", \"2m\", \"1h30m\" or \"7d\""
        )
    })?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("invalid duration {trimmed:?}: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("duration {trimmed:?} must not be negative"))
}

/// Formats a duration compactly for messages and evidence: `250ms`, `5s`,
/// `2m`, `1h30m`, `7d`.
#[must_use]
pub fn format(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let mut secs = duration.as_secs();
    if !millis.is_multiple_of(1000) && secs < 60 {
        return format!("{:.1}s", duration.as_secs_f64());
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Serde helper: a required duration field.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Serde helper: an optional duration field.
pub fn deserialize_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|text| parse(&text).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_of_the_design() {
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse(" 3s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(parse("5").unwrap_err().contains("no unit"));
        assert!(parse("").is_err());
        assert!(parse("soon").is_err());
        assert!(parse("-5s").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_secs(5)), "5s");
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
    }
}

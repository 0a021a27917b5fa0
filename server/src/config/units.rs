//! Human-written durations (`15s`, `30m`, `1h30m`) and sizes (`512m`, `4g`) in the config file.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, time::Duration};

/// A duration written with units: `500ms`, `15s`, `30m`, `2h`, `1d`, or combined (`1h30m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }
}

pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("expected a duration such as `15s` or `30m`".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{input}` is not a duration: expected a number followed by ms, s, m, h or d"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{input}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            "" => {
                return Err(format!(
                    "`{input}` needs a unit: write e.g. `{n}s` or `{n}m` (ms, s, m, h, d)"
                ))
            }
            other => {
                return Err(format!(
                    "`{input}` has an unknown unit `{other}` (use ms, s, m, h or d)"
                ))
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = NumberOrString::deserialize(d)?.into_string();
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else {
            let s = ms / 1000;
            match s {
                s if s != 0 && s % 3600 == 0 => write!(f, "{}h", s / 3600),
                s if s != 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
                s => write!(f, "{s}s"),
            }
        }
    }
}

/// A size in bytes, written `512`, `64k`, `512m`, `4g` (binary units: k = 1024; `kb`/`kib` too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

pub fn parse_size(input: &str) -> Result<u64, String> {
    let s = input.trim().to_ascii_lowercase();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return Err(format!(
            "`{input}` is not a size: expected a number with an optional unit k, m or g"
        ));
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("`{input}` is too large"))?;
    let mult: u64 = match s[digits..].trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "`{input}` has an unknown unit `{other}` (use k, m, g or t)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{input}` is too large"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = NumberOrString::deserialize(d)?.into_string();
        parse_size(&text).map(ByteSize).map_err(de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, mult) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
            if b >= mult && b.is_multiple_of(mult) {
                return write!(f, "{}{unit}", b / mult);
            }
        }
        write!(f, "{b}")
    }
}

/// YAML writes `512` as a number and `512m` as a string; both reach the unit parsers as text,
/// so the parser (not serde) gives the helpful message.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Int(u64),
    Str(String),
}

impl NumberOrString {
    fn into_string(self) -> String {
        match self {
            NumberOrString::Int(n) => n.to_string(),
            NumberOrString::Str(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 2d "), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn durations_without_or_with_bad_units_explain_themselves() {
        assert!(parse_duration("15").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("15x")
            .unwrap_err()
            .contains("unknown unit `x`"));
        assert!(parse_duration("fast")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64k"), Ok(65_536));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("4g"), Ok(4 << 30));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert!(parse_size("4x").unwrap_err().contains("unknown unit"));
        assert!(parse_size("m").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999t").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["15s", "30m", "2h", "250ms"] {
            assert_eq!(
                HumanDuration(parse_duration(s).unwrap()).to_string(),
                s,
                "{s}"
            );
        }
        for s in ["64k", "512m", "4g", "1000"] {
            assert_eq!(ByteSize(parse_size(s).unwrap()).to_string(), s, "{s}");
        }
    }
}

//! Durations as the configuration writes them: a number with a unit (`10ms`, `1s`,
//! `1.5s`, `2m`, `1h`, or a sum such as `1m30s`).
//!
//! Owns the text form of durations, both ways. Must not know which key a duration
//! belongs to or what range it may take: the validation layer decides that.
//!
//! A bare number is refused on purpose: keepalived's `advert_int 1` means seconds while
//! VRRPv3 carries centiseconds, and a config that silently picks one is how intervals end
//! up a hundred times off.

use std::time::Duration;

/// What the parser accepts, for help texts.
pub const DURATION_SYNTAX: &str = "write a number with a unit: 10ms, 1s, 1.5s, 2m or 1h";

/// Why a duration could not be read. The message is complete in itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(pub String);

/// Parse a duration with units. Fractions are exact (no floating point): `1.5s` is
/// 1500 ms, and a fraction finer than a nanosecond is refused.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError(
            "empty duration: durations need a unit: write 100ms or 1s".into(),
        ));
    }
    if text.starts_with('-') {
        return Err(DurationError(format!(
            "`{text}` is negative: durations cannot be negative"
        )));
    }
    if text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '+')
    {
        return Err(DurationError(format!(
            "`{text}` has no unit: durations need a unit: write {text}ms or {text}s"
        )));
    }

    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(DurationError(format!(
                "`{text}` is not a duration: expected a number at `{rest}`"
            )));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(DurationError(format!(
                    "`{text}`: `{number}` has no unit: durations need a unit: write 100ms or 1s"
                )));
            }
            other => {
                return Err(DurationError(format!(
                    "`{text}`: unknown unit `{other}`; the units are ms, s, m and h"
                )));
            }
        };
        let nanos = scaled(number, nanos_per_unit).ok_or_else(|| {
            DurationError(format!(
                "`{text}`: `{number}{unit}` is not a number of {unit} this parser can represent"
            ))
        })?;
        total = u64::try_from(nanos)
            .ok()
            .and_then(|nanos| total.checked_add(Duration::from_nanos(nanos)))
            .ok_or_else(|| DurationError(format!("`{text}` is too long")))?;
        rest = after;
    }
    Ok(total)
}

/// `number` (digits, optionally `.` and more digits) times `unit` nanoseconds, if exact
/// and in range.
fn scaled(number: &str, unit: u128) -> Option<u128> {
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if fraction.contains('.') || fraction.len() > 18 || whole.len() > 20 {
        return None;
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole_value.checked_mul(unit)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().ok()?;
        let denominator = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        let numerator = digits.checked_mul(unit)?;
        if numerator % denominator != 0 {
            return None;
        }
        nanos = nanos.checked_add(numerator / denominator)?;
    }
    Some(nanos)
}

/// The shortest exact text for a duration in the units above (`1s`, `1500ms`, `2m`).
/// Durations finer than a millisecond (which the config never produces for the keys that
/// are shown back) fall back to a fractional millisecond count.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    for (unit, per) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ] {
        if nanos.is_multiple_of(per) {
            return format!("{}{unit}", nanos / per);
        }
    }
    let millis = nanos / 1_000_000;
    let fraction = format!("{:06}", nanos % 1_000_000);
    format!("{millis}.{}ms", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn units_and_fractions() {
        assert_eq!(parse_duration("10ms"), Ok(ms(10)));
        assert_eq!(parse_duration("1s"), Ok(ms(1000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("0.01s"), Ok(ms(10)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
    }

    #[test]
    fn bare_numbers_need_a_unit() {
        for text in ["100", "1.5", "0"] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.0.contains("durations need a unit"), "{text}: {err:?}");
        }
        assert!(parse_duration("1m30").unwrap_err().0.contains("no unit"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").unwrap_err().0.contains("negative"));
        assert!(
            parse_duration("1sec")
                .unwrap_err()
                .0
                .contains("unknown unit `sec`")
        );
        assert!(parse_duration("1d").unwrap_err().0.contains("unknown unit"));
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("1..5s").is_err());
        assert!(parse_duration(".s").is_err());
        assert!(parse_duration("1.0000000001ms").is_err());
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert!(parse_duration("1 s").is_err());
    }

    #[test]
    fn format_round_trips() {
        for d in [
            ms(10),
            ms(1000),
            ms(1500),
            ms(120_000),
            ms(3_600_000),
            ms(90_000),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
        assert_eq!(format_duration(ms(1500)), "1500ms");
        assert_eq!(format_duration(ms(90_000)), "90s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }
}

//! Money as integer cents, parsed from docs/API.md's decimal strings.

use std::fmt;

/// The largest amount anything accepts: 1,000,000.00 USD.
pub const MAX_CENTS: i64 = 100_000_000;

/// A non-negative amount of US cents, at most [`MAX_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmountCents(i64);

impl AmountCents {
    pub const ZERO: AmountCents = AmountCents(0);

    /// Parses `"5"`, `"5.5"` or `"5.50"`: digits, at most two decimals,
    /// no sign, no exponent, no spaces, at most 1,000,000.00.
    pub fn parse(s: &str) -> Option<AmountCents> {
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() || whole.len() > 7 || frac.len() > 2 || (s.contains('.') && frac.is_empty()) {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac_cents: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        let cents = whole.checked_mul(100)?.checked_add(frac_cents)?;
        (cents <= MAX_CENTS).then_some(AmountCents(cents))
    }

    pub fn from_cents(cents: i64) -> Option<AmountCents> {
        (0..=MAX_CENTS).contains(&cents).then_some(AmountCents(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }
}

impl fmt::Display for AmountCents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings_into_cents() {
        assert_eq!(AmountCents::parse("5.50").map(AmountCents::cents), Some(550));
        assert_eq!(AmountCents::parse("5.5").map(AmountCents::cents), Some(550));
        assert_eq!(AmountCents::parse("10").map(AmountCents::cents), Some(1000));
        assert_eq!(AmountCents::parse("0.00").map(AmountCents::cents), Some(0));
        assert_eq!(AmountCents::parse("1000000.00").map(AmountCents::cents), Some(MAX_CENTS));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in ["", ".5", "5.", "5.555", "-1", "+1", "1e3", " 5", "1000000.01", "99999999", "5,50", "0x10"] {
            assert_eq!(AmountCents::parse(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(AmountCents::parse("5.5").unwrap().to_string(), "5.50");
        assert_eq!(AmountCents::parse("0").unwrap().to_string(), "0.00");
    }
}

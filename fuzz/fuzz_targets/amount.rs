//! Money: decimal strings with at most two decimals, never more than the cap.
#![no_main]
use latchkey::domain::money::AmountCents;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Some(a) = AmountCents::parse(s)
    {
        assert!(a.cents() >= 0 && a.cents() <= latchkey::domain::money::MAX_CENTS);
        // What parses prints back as something that parses to the same.
        assert_eq!(AmountCents::parse(&a.to_string()).map(|b| b.cents()), Some(a.cents()));
    }
});

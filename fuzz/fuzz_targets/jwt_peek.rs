//! Reading a JWT before verifying it: header, subject, delegation hint.
#![no_main]
use latchkey::crypto::{es256, rsa_cert};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rsa_cert::peek_header(s);
        let _ = rsa_cert::peek_maybe_delegated(s);
        let _ = es256::Assertion::parse(s).map(|a| a.claims.sub);
    }
});

//! Opaque tokens: prefix, base62 body and CRC-32 checksum, on any bytes.
#![no_main]
use latchkey::crypto::token::{self, TokenKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        for kind in [TokenKind::Pat, TokenKind::BootstrapSecret, TokenKind::AccessToken] {
            if let Some(hash) = token::parse(kind, s) {
                // Only a well-formed token of that kind parses.
                assert!(s.starts_with(kind.prefix()));
                assert_eq!(hash.len(), 32);
            }
        }
    }
});

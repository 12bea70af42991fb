//! The token endpoint's form and JSON bodies.
#![no_main]
use latchkey::http::api::enrollment::parse_token_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&first, body)) = data.split_first() {
        let _ = parse_token_request(first & 1 == 1, body);
    }
});

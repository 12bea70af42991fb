//! Agents' P-256 JWKs and sessions' Ed25519 keys, from any JSON.
#![no_main]
use latchkey::crypto::es256::EcJwk;
use latchkey::crypto::signing::SessionKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(jwk) = EcJwk::parse(&v) {
            // What parses round-trips through storage.
            assert_eq!(EcJwk::from_stored(&jwk.to_json()), Some(jwk));
        }
        let _ = SessionKey::parse(&v);
    }
});

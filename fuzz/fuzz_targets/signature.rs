//! Request signatures: header decoding and the canonical string.
#![no_main]
use latchkey::crypto::signing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = signing::decode_signature(s);
        let mut parts = s.splitn(5, '\n');
        let (m, p, t, b) = (parts.next(), parts.next(), parts.next(), parts.next());
        if let (Some(m), Some(p), Some(t), Some(b)) = (m, p, t, b) {
            let nonce = parts.next();
            let canonical = signing::canonical_string(m, p, t, b, nonce);
            assert!(canonical.len() >= m.len() + p.len() + t.len() + b.len() + 3);
        }
    }
});

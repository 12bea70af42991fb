//! Signed requests (docs/API.md §5.3): an Ed25519 signature over
//! `METHOD\nPATH\nTIMESTAMP\nSHA256_HEX_OF_RAW_BODY`, made with the
//! ephemeral key a runtime session is bound to.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use super::okp_thumbprint;

/// The string a request signature covers; an `X-Agent-Nonce` is a fifth line.
pub fn canonical_string(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    body_sha256_hex: &str,
    nonce: Option<&str>,
) -> String {
    let mut s = format!("{}\n{path_and_query}\n{timestamp}\n{body_sha256_hex}", method.to_ascii_uppercase());
    if let Some(nonce) = nonce {
        s.push('\n');
        s.push_str(nonce);
    }
    s
}

/// Decodes a signature in standard base64, URL-safe base64, padded or not.
pub fn decode_signature(raw: &str) -> Option<Signature> {
    let raw = raw.trim();
    let bytes =
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(raw).ok())?;
    let bytes: [u8; 64] = bytes.try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

/// A session's public key: validated point, its raw bytes and RFC 7638 thumbprint.
#[derive(Debug, Clone)]
pub struct SessionKey {
    pub key: VerifyingKey,
    pub thumbprint: String,
}

impl SessionKey {
    /// Accepts base64url (unpadded or padded) of the raw 32-byte key, or an
    /// OKP JWK object with `crv: Ed25519`.
    pub fn parse(value: &Value) -> Result<SessionKey, String> {
        let x = match value {
            Value::String(s) => s.trim_end_matches('=').to_string(),
            Value::Object(jwk) => {
                if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
                    || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
                {
                    return Err("session_pubkey: a JWK must have kty OKP and crv Ed25519.".into());
                }
                if jwk.contains_key("d") {
                    return Err("session_pubkey: that JWK holds a private key; send only the public part.".into());
                }
                jwk.get("x").and_then(Value::as_str).ok_or("session_pubkey: the JWK has no x.")?.to_string()
            }
            _ => return Err("session_pubkey: base64url of the raw 32-byte Ed25519 key, or an OKP JWK.".into()),
        };
        let bytes = URL_SAFE_NO_PAD.decode(&x).map_err(|_| "session_pubkey: not base64url.".to_string())?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| "session_pubkey: an Ed25519 key is exactly 32 bytes.".to_string())?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| "session_pubkey: not a valid Ed25519 point.".to_string())?;
        if key.is_weak() {
            return Err("session_pubkey: a weak (small-order) key is not accepted.".into());
        }
        Ok(SessionKey { thumbprint: okp_thumbprint(&URL_SAFE_NO_PAD.encode(bytes)), key })
    }
}

/// Verifies `signature` over `canonical` with `public_key` (strict: no
/// malleable signatures, no small-order keys).
pub fn verify(public_key: &[u8], canonical: &str, signature: &Signature) -> bool {
    let Ok(bytes) = <[u8; 32]>::try_from(public_key) else { return false };
    let Ok(key) = VerifyingKey::from_bytes(&bytes) else { return false };
    verify_with(&key, canonical, signature)
}

/// [`verify`] with a key already decoded.
pub fn verify_with(key: &VerifyingKey, canonical: &str, signature: &Signature) -> bool {
    key.verify_strict(canonical.as_bytes(), signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256_hex;
    use ed25519_dalek::{Signer, SigningKey};

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn test_key() -> SigningKey {
        SigningKey::from_bytes(&hex::decode(SEED).unwrap().try_into().unwrap())
    }

    /// `docs/vectors.json`, section "signed_requests".
    #[test]
    fn matches_the_shared_test_vectors() {
        let vectors = [
            (
                "POST",
                "/api/agent/checkout/create",
                "1763800000",
                r#"{"amount_usd":"5.50","description":"coffee"}"#,
                "5379f4b0b0e784bd155bac05c2aff3b20fc3a14f18a9c3847a92020cb7044b97",
                "yOhiQCJexngY99mQfBOIXvxv+Drm4oUdEmkbZHMPVGS0V3SCHupxTiHgWr8QXh5ywGM9vQ/14o/1necweBEFAg==",
            ),
            (
                "GET",
                "/v1/auth/whoami?x=1&y=%20z",
                "1763800001",
                "",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "NPSK7DPvU1jXnx0AMPV+EDLCGihWpWfCbc+6k//WJ7Vq9Az95NAd/dyUVC1/CXbF1BaXS6L50CQIxY0U1pCoDg==",
            ),
        ];
        let key = test_key();
        let public = key.verifying_key().to_bytes();
        assert_eq!(URL_SAFE_NO_PAD.encode(public), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        for (method, path, ts, body, body_hash, sig) in vectors {
            assert_eq!(sha256_hex(body.as_bytes()), body_hash);
            let canonical = canonical_string(method, path, ts, body_hash, None);
            assert_eq!(STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes()), sig);
            let decoded = decode_signature(sig).unwrap();
            assert!(verify(&public, &canonical, &decoded));
            // URL-safe and unpadded forms are the same signature.
            let url = sig.replace('+', "-").replace('/', "_");
            assert!(verify(&public, &canonical, &decode_signature(url.trim_end_matches('=')).unwrap()));
            assert!(!verify(&public, &canonical.replacen(method, "PATCH", 1), &decoded), "another method");
            assert!(!verify(&public, &format!("{canonical}0"), &decoded), "another body hash");
        }
    }

    #[test]
    fn session_keys_parse_from_raw_or_jwk() {
        let raw = Value::String("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into());
        let k = SessionKey::parse(&raw).unwrap();
        assert_eq!(k.thumbprint, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let jwk =
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(SessionKey::parse(&jwk).unwrap().thumbprint, k.thumbprint);
        for bad in [
            serde_json::json!("short"),
            serde_json::json!(42),
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "x"}),
            // The identity point has small order.
            serde_json::json!(
                URL_SAFE_NO_PAD.encode([1u8; 1].iter().chain([0u8; 31].iter()).copied().collect::<Vec<u8>>())
            ),
        ] {
            assert!(SessionKey::parse(&bad).is_err(), "{bad}");
        }
    }
}

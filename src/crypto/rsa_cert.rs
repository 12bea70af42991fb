//! Workspace certificates: RSA-2048 key pairs whose public half Latchkey
//! keeps to verify the RS256 JWTs a host's backend signs.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use pem_rfc7468::LineEnding;
use serde::Deserialize;

use super::sha256;

/// A new certificate: the private key leaves with the response and is
/// never kept.
pub struct Generated {
    pub private_key_pem: String,
    pub public_key_pem: String,
    pub n: String,
    pub e: String,
    pub kid: String,
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated").field("kid", &self.kid).field("private_key_pem", &"<redacted>").finish()
    }
}

/// Generates RSA-2048 (slow: call it on a blocking thread).
pub fn generate() -> Result<Generated, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed".to_string())?;
    let private: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| "cannot encode the private key".to_string())?;
    let public = pair.public_key();
    let spki: PublicKeyX509Der<'static> = public.as_der().map_err(|_| "cannot encode the public key".to_string())?;
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    let pem = |label, der: &[u8]| pem_rfc7468::encode_string(label, LineEnding::LF, der).map_err(|e| e.to_string());
    Ok(Generated {
        private_key_pem: pem("PRIVATE KEY", private.as_ref())?,
        public_key_pem: pem("PUBLIC KEY", spki.as_ref())?,
        kid: rsa_thumbprint(&n, &e),
        n,
        e,
    })
}

/// RFC 7638 thumbprint of an RSA JWK.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
}

/// Claims a certificate JWT may carry.
#[derive(Debug, Clone, Deserialize)]
pub struct CertClaims {
    pub iat: Option<i64>,
    pub exp: Option<i64>,
    pub jti: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "firstName")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName")]
    pub last_name: Option<String>,
}

/// The header's `alg` and `kid`, read to pick the verifier (never trusted
/// to choose the algorithm: a certificate fixes RS256).
pub fn peek_header(token: &str) -> Option<(Algorithm, Option<String>, Option<String>)> {
    jsonwebtoken::decode_header(token).ok().map(|h| (h.alg, h.kid, h.typ))
}

/// Whether the (unverified) payload may name an `email`: a delegated token,
/// whose first use provisions a user and so needs a write transaction.
/// Only picks the path, and errs towards it: anything unreadable counts as
/// delegated; [`verify`] decides.
pub fn peek_maybe_delegated(token: &str) -> bool {
    use base64::Engine as _;
    let Some(payload) = token.split('.').nth(1) else { return true };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else {
        return true;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes).map_or(true, |v| v.get("email").is_some())
}

/// Verifies an RS256 signature with the certificate's key; claims are the
/// caller's to check.
pub fn verify(token: &str, n: &str, e: &str) -> Result<CertClaims, &'static str> {
    let key = DecodingKey::from_rsa_components(n, e).map_err(|_| "certificate key unusable")?;
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<CertClaims>(token, &key, &v).map(|d| d.claims).map_err(|_| "bad certificate JWT signature")
}

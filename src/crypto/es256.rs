//! Agents' own ES256 keys (P-256 JWKs) and the RFC 7523 client assertions
//! signed with them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::sha256;

/// A validated P-256 public key as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcJwk {
    pub x: String,
    pub y: String,
}

impl EcJwk {
    /// `kty` EC, `crv` P-256, `x` and `y` base64url of 32 bytes each, and the
    /// point on the curve. A JWK carrying a private part is refused.
    pub fn parse(v: &Value) -> Result<EcJwk, String> {
        let obj = v.as_object().ok_or("publicKey: a JWK object.")?;
        let field = |name: &str| obj.get(name).and_then(Value::as_str);
        if field("kty") != Some("EC") {
            return Err("publicKey: kty must be EC.".into());
        }
        if field("crv") != Some("P-256") {
            return Err("publicKey: crv must be P-256.".into());
        }
        if obj.contains_key("d") {
            return Err("publicKey: that JWK holds a private key; send only the public part.".into());
        }
        let coord = |name: &str| -> Result<[u8; 32], String> {
            let raw = field(name).ok_or_else(|| format!("publicKey: {name} is missing."))?;
            let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| format!("publicKey: {name} is not base64url."))?;
            bytes.try_into().map_err(|_| format!("publicKey: {name} must be 32 bytes."))
        };
        let (x, y) = (coord("x")?, coord("y")?);
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(4u8);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        p256::PublicKey::from_sec1_bytes(&sec1)
            .map_err(|_| "publicKey: the point is not on the P-256 curve.".to_string())?;
        Ok(EcJwk { x: URL_SAFE_NO_PAD.encode(x), y: URL_SAFE_NO_PAD.encode(y) })
    }

    /// The canonical JWK we store and publish.
    pub fn to_json(&self) -> String {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y}).to_string()
    }

    pub fn from_stored(s: &str) -> Option<EcJwk> {
        let v: Value = serde_json::from_str(s).ok()?;
        Some(EcJwk { x: v.get("x")?.as_str()?.to_string(), y: v.get("y")?.as_str()?.to_string() })
    }

    /// RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, self.x, self.y);
        URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
    }
}

/// The claims of a client assertion, as sent.
#[derive(Debug, Clone, Deserialize)]
pub struct AssertionClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(default)]
    pub aud: Value,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub jti: Option<String>,
}

/// Reads the subject before verifying, to find the key to verify with.
/// Nothing read here is trusted until [`verify_assertion`] succeeds.
pub fn peek_subject(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("sub")?.as_str().map(str::to_string)
}

/// Verifies the assertion's signature with exactly ES256 and the agent's
/// key, whatever the header claims; a `kid`, when present, must be the
/// key's thumbprint. Claims are checked by the caller.
pub fn verify_assertion(token: &str, key: &EcJwk) -> Result<AssertionClaims, &'static str> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed assertion")?;
    if header.alg != Algorithm::ES256 {
        return Err("assertion algorithm is not ES256");
    }
    if header.kid.as_deref().is_some_and(|kid| kid != key.thumbprint()) {
        return Err("assertion kid is not the registered key's thumbprint");
    }
    let decoding = DecodingKey::from_ec_components(&key.x, &key.y).map_err(|_| "registered key unusable")?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<AssertionClaims>(token, &decoding, &validation)
        .map(|d| d.claims)
        .map_err(|_| "bad assertion signature")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk_of(secret: &p256::SecretKey) -> Value {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let point = secret.public_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())})
    }

    #[test]
    fn accepts_a_real_key_and_refuses_the_rest() {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let jwk = jwk_of(&secret);
        let parsed = EcJwk::parse(&jwk).unwrap();
        assert_eq!(parsed.thumbprint().len(), 43);
        assert_eq!(EcJwk::from_stored(&parsed.to_json()), Some(parsed));

        let mut off_curve = jwk.clone();
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
        let mut no_y = jwk.clone();
        no_y.as_object_mut().unwrap().remove("y");
        let mut p384 = jwk.clone();
        p384["crv"] = json!("P-384");
        let mut okp = jwk.clone();
        okp["kty"] = json!("OKP");
        let mut private = jwk.clone();
        private["d"] = json!("AAAA");
        let mut short = jwk.clone();
        short["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 31]));
        for bad in [off_curve, no_y, p384, okp, private, short, json!("a string")] {
            assert!(EcJwk::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_thumbprint_follows_rfc_7638() {
        // RFC 7638 §3.1 uses an RSA key; this checks the EC member order instead.
        let k = EcJwk { x: "X".into(), y: "Y".into() };
        let expected = URL_SAFE_NO_PAD.encode(sha256(br#"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#));
        assert_eq!(k.thumbprint(), expected);
    }
}

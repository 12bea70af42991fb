//! Agents' own ES256 keys (P-256 JWKs) and the RFC 7523 client assertions
//! signed with them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

    /// The uncompressed SEC1 point (`04 || x || y`), 65 bytes.
    fn sec1(&self) -> Option<[u8; 65]> {
        let mut point = [4u8; 65];
        let x = URL_SAFE_NO_PAD.decode(&self.x).ok()?;
        let y = URL_SAFE_NO_PAD.decode(&self.y).ok()?;
        point.get_mut(1..33)?.copy_from_slice(x.get(..32).filter(|_| x.len() == 32)?);
        point.get_mut(33..65)?.copy_from_slice(y.get(..32).filter(|_| y.len() == 32)?);
        Some(point)
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

/// A compact JWS client assertion, split and decoded but not yet trusted:
/// nothing read here counts until [`Assertion::verify`] succeeds. The
/// payload is decoded once, for both the key lookup (`sub`) and the
/// claims checks.
#[derive(Debug)]
pub struct Assertion<'a> {
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    alg: String,
    kid: Option<String>,
    signature: Vec<u8>,
    pub claims: AssertionClaims,
}

#[derive(Deserialize)]
struct AssertionHeader {
    alg: String,
    kid: Option<String>,
}

impl<'a> Assertion<'a> {
    /// Three base64url parts (no padding) whose first two are JSON objects.
    pub fn parse(token: &'a str) -> Option<Assertion<'a>> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let header: AssertionHeader = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let claims: AssertionClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        Some(Assertion { signing_input, alg: header.alg, kid: header.kid, signature, claims })
    }

    /// Verifies the signature with exactly ES256 and the agent's key,
    /// whatever else the header says; a `kid`, when present, must be the
    /// key's thumbprint. Claims are checked by the caller.
    pub fn verify(&self, key: &EcJwk) -> Result<(), &'static str> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
        if self.alg != "ES256" {
            return Err("assertion algorithm is not ES256");
        }
        if self.kid.as_deref().is_some_and(|kid| kid != key.thumbprint()) {
            return Err("assertion kid is not the registered key's thumbprint");
        }
        let point = key.sec1().ok_or("registered key unusable")?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| "bad assertion signature")
    }
}

/// Parses and verifies in one step, for callers that already know the key.
pub fn verify_assertion(token: &str, key: &EcJwk) -> Result<AssertionClaims, &'static str> {
    let assertion = Assertion::parse(token).ok_or("malformed assertion")?;
    assertion.verify(key)?;
    Ok(assertion.claims)
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

    fn sign(secret: &p256::SecretKey, header: &Value, claims: &Value) -> String {
        use p256::ecdsa::signature::Signer;
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(secret).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    #[test]
    fn an_assertion_verifies_only_as_es256_with_its_own_key() {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let key = EcJwk::parse(&jwk_of(&secret)).unwrap();
        let other = EcJwk::parse(&jwk_of(&p256::SecretKey::random(&mut rand::rngs::OsRng))).unwrap();
        let claims = json!({"iss": "a1", "sub": "a1", "aud": "https://x", "iat": 1, "exp": 2, "jti": "j"});
        let good = sign(&secret, &json!({"alg": "ES256", "typ": "JWT"}), &claims);
        let parsed = Assertion::parse(&good).unwrap();
        assert_eq!(parsed.claims.sub.as_deref(), Some("a1"));
        assert_eq!(parsed.verify(&key), Ok(()));
        assert_eq!(parsed.verify(&other), Err("bad assertion signature"));
        let with_kid = sign(&secret, &json!({"alg": "ES256", "kid": key.thumbprint()}), &claims);
        assert_eq!(verify_assertion(&with_kid, &key).map(|c| c.jti), Ok(Some("j".into())));

        let wrong_kid = sign(&secret, &json!({"alg": "ES256", "kid": other.thumbprint()}), &claims);
        assert_eq!(
            verify_assertion(&wrong_kid, &key).err(),
            Some("assertion kid is not the registered key's thumbprint")
        );
        for alg in ["none", "HS256", "RS256", "ES384", "es256"] {
            let token = sign(&secret, &json!({"alg": alg}), &claims);
            assert_eq!(verify_assertion(&token, &key).err(), Some("assertion algorithm is not ES256"), "{alg}");
        }
        // Another payload under the same signature.
        let (_, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!(
            "{}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(json!({"alg": "ES256"}).to_string()),
            URL_SAFE_NO_PAD.encode(json!({"sub": "a2"}).to_string())
        );
        assert_eq!(verify_assertion(&forged, &key).err(), Some("bad assertion signature"));
        // Not compact JWS: padding, two parts, a header that is not JSON, a DER signature.
        let der = {
            use p256::ecdsa::signature::Signer;
            let (input, _) = good.rsplit_once('.').unwrap();
            let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(&secret).sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(s.to_der().as_bytes()))
        };
        assert_eq!(verify_assertion(&der, &key).err(), Some("bad assertion signature"));
        for bad in
            [format!("{good}="), good.rsplit_once('.').unwrap().0.to_string(), format!("e30.{rest}"), String::new()]
        {
            assert_eq!(verify_assertion(&bad, &key).err(), Some("malformed assertion"), "{bad}");
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

//! The server's own Ed25519 signing keys and the JWTs they sign.
//!
//! Keys live in `LATCHKEY_KEYS_DIR` (default `DATA_DIR/keys/`) as PKCS#8
//! PEM files (0600), not in the database, so a database backup never
//! carries them. The newest key signs; an older key stays published in the
//! JWKS (and keeps verifying) until every token it can have signed has
//! expired.
//!
//! Replicas share the directory. So that no replica ever signs with a key
//! another has not loaded, the directory also holds the *next* key
//! (`*.next.pem`): published and accepted for verification everywhere, used
//! for signing nowhere. `latchkey keys rotate` promotes the next key to
//! signing and writes a new next key; every replica picks the change up
//! within a minute (or at SIGHUP). A replica that has not yet reloaded
//! still verifies what the promoted key signs, because it loaded that key
//! as "next" one rotation earlier.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::clock::Timestamp;
use crate::crypto::okp_thumbprint;

const KEYS_DIR: &str = "keys";

struct KeyEntry {
    kid: String,
    x: String,
    created_at: Timestamp,
    /// When a newer key took over signing.
    retired_at: Option<Timestamp>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// A secret derived from the private key, for keyed hashes.
    derived: [u8; 32],
}

struct KeySet {
    /// Newest first; the first one signs.
    keys: Vec<KeyEntry>,
    /// Published and verifying, never signing (yet).
    next: Vec<KeyEntry>,
    /// The file names this set was read from, to notice a rotation.
    files: Vec<String>,
}

/// Why a JWT was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtRefusal {
    /// Not ours: bad shape, unknown `kid`, bad signature, wrong issuer or audience.
    Invalid(&'static str),
}

pub struct SigningKeys {
    dir: PathBuf,
    /// The longest lifetime of any JWT these keys sign.
    max_token_ttl: i64,
    set: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Where the keys live: `LATCHKEY_KEYS_DIR`, or `keys/` in the data dir.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_DIR)
}

fn ensure_dir(dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = dir.to_path_buf();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(dir)
}

/// Writes a fresh key file (the next key when `next`); returns its `kid`.
fn generate(dir: &Path, now: Timestamp, next: bool) -> Result<String, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| format!("cannot encode the signing key: {e}"))?;
    // Never overwrite: a second key in the same second gets a suffix.
    for n in 0..100 {
        let name = key_file_name(now, n, next);
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(mut f) => {
                f.write_all(pem.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                return Ok(okp_thumbprint(&URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
        }
    }
    Err("cannot find a free key file name".into())
}

fn key_file_name(at: Timestamp, n: usize, next: bool) -> String {
    let suffix = if next { ".next.pem" } else { ".pem" };
    if n == 0 { format!("ed25519-{}{suffix}", at.0) } else { format!("ed25519-{}-{n}{suffix}", at.0) }
}

/// The key files in `dir`, sorted.
fn file_names(dir: &Path) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && name.starts_with("ed25519-")
            && name.ends_with(".pem")
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

fn read_key(path: &Path, created: i64, retired_at: Option<Timestamp>) -> Result<KeyEntry, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| format!("{} is not an Ed25519 key: {e}", path.display()))?;
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let decoding = DecodingKey::from_ed_components(&x).map_err(|e| e.to_string())?;
    Ok(KeyEntry {
        kid: okp_thumbprint(&x),
        x,
        created_at: Timestamp(created),
        retired_at,
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        decoding,
        derived: crate::crypto::sha256(&[b"latchkey derived secret v1:".as_slice(), &key.to_bytes()].concat()),
    })
}

fn load_dir(dir: &Path) -> Result<KeySet, String> {
    let files = file_names(dir)?;
    let mut found: Vec<(i64, String, PathBuf)> = Vec::new();
    let mut next = Vec::new();
    for name in &files {
        let path = dir.join(name);
        if let Some(stem) = name.strip_prefix("ed25519-").and_then(|s| s.strip_suffix(".next.pem")) {
            let created: i64 = stem.split('-').next().and_then(|s| s.parse().ok()).unwrap_or(0);
            next.push(read_key(&path, created, None)?);
            continue;
        }
        let Some(stem) = name.strip_prefix("ed25519-").and_then(|s| s.strip_suffix(".pem")) else {
            continue;
        };
        let created: i64 = stem.split('-').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        found.push((created, name.clone(), path));
    }
    // Newest first; the name breaks ties between keys of the same second.
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.len().cmp(&a.1.len())).then_with(|| b.1.cmp(&a.1)));
    let mut keys = Vec::with_capacity(found.len());
    let mut newer_created: Option<Timestamp> = None;
    for (created, _, path) in found {
        keys.push(read_key(&path, created, newer_created)?);
        newer_created = Some(Timestamp(created));
    }
    Ok(KeySet { keys, next, files })
}

impl SigningKeys {
    /// Loads the keys in `dir`, creating the first one (and the next one)
    /// if there is none.
    pub fn load_or_create(dir: &Path, max_token_ttl: i64, now: Timestamp) -> Result<SigningKeys, String> {
        let dir = ensure_dir(dir)?;
        let mut set = load_dir(&dir)?;
        if set.keys.is_empty() {
            generate(&dir, now, false)?;
            generate(&dir, now, true)?;
            set = load_dir(&dir)?;
        }
        Ok(SigningKeys { dir, max_token_ttl, set: RwLock::new(Arc::new(set)) })
    }

    /// `latchkey keys rotate`: the next key starts signing (renamed to
    /// carry the time it took over) and a new next key is written; without
    /// a next key (an instance from before they existed) a fresh key signs.
    /// Returns the `kid` that signs now.
    pub fn rotate(dir: &Path, now: Timestamp) -> Result<String, String> {
        let dir = ensure_dir(dir)?;
        let pending: Vec<String> = file_names(&dir)?.into_iter().filter(|n| n.ends_with(".next.pem")).collect();
        let kid = match pending.last() {
            Some(newest) => {
                let from = dir.join(newest);
                let kid = read_key(&from, now.0, None)?.kid;
                let to = (0..100)
                    .map(|n| dir.join(key_file_name(now, n, false)))
                    .find(|p| !p.exists())
                    .ok_or("cannot find a free key file name")?;
                std::fs::rename(&from, &to).map_err(|e| format!("cannot promote {}: {e}", from.display()))?;
                // Older pending keys never signed anything.
                for other in &pending[..pending.len() - 1] {
                    let _ = std::fs::remove_file(dir.join(other));
                }
                kid
            }
            None => generate(&dir, now, false)?,
        };
        generate(&dir, now, true)?;
        Ok(kid)
    }

    /// Re-reads the key files when they changed (a rotation by another
    /// process); `true` when something was reloaded.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        if file_names(&self.dir)? == self.current().files {
            return Ok(false);
        }
        self.reload().map(|_| true)
    }

    /// Re-reads the key files (SIGHUP after `keys rotate`).
    pub fn reload(&self) -> Result<(), String> {
        let set = load_dir(&self.dir)?;
        if set.keys.is_empty() {
            return Err(format!("no signing key left in {}", self.dir.display()));
        }
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The `kid` of the key that signs now.
    pub fn active_kid(&self) -> String {
        self.current().keys.first().map(|k| k.kid.clone()).unwrap_or_default()
    }

    /// Signs `claims` as an EdDSA JWT with the active key.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, String> {
        self.sign_typed(claims, None)
    }

    /// [`SigningKeys::sign`] with a header `typ` (`at+jwt` for RFC 9068
    /// access tokens).
    pub fn sign_typed<T: Serialize>(&self, claims: &T, typ: Option<&str>) -> Result<String, String> {
        let set = self.current();
        let key = set.keys.first().ok_or("no signing key")?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        if let Some(typ) = typ {
            header.typ = Some(typ.to_string());
        }
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| format!("cannot sign a JWT: {e}"))
    }

    /// An RFC 9068 access token of ours (`typ: at+jwt`): signature and
    /// issuer. Its audience is a resource, checked by the caller against
    /// the grant; expiry too.
    pub fn verify_access_token<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        now: Timestamp,
    ) -> Result<T, JwtRefusal> {
        self.decode(token, issuer, None, Some("at+jwt"), now)
    }

    fn published(&self, key: &KeyEntry, now: Timestamp) -> bool {
        key.retired_at.is_none_or(|t| now.0 < t.0 + self.max_token_ttl)
    }

    /// Verifies signature, issuer and audience of one of our JWTs. Expiry is
    /// left to the caller, who holds the application clock.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: Timestamp,
    ) -> Result<T, JwtRefusal> {
        self.decode(token, issuer, Some(audience), None, now)
    }

    /// EdDSA (ours to fix, never the header's to choose), a published
    /// `kid`, the issuer, the audience when given, the header `typ` when
    /// required; expiry is left to the caller.
    fn decode<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
        typ: Option<&str>,
        now: Timestamp,
    ) -> Result<T, JwtRefusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtRefusal::Invalid("malformed JWT"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(JwtRefusal::Invalid("unexpected JWT algorithm"));
        }
        if typ.is_some() && header.typ.as_deref() != typ {
            return Err(JwtRefusal::Invalid("unexpected JWT type"));
        }
        let kid = header.kid.ok_or(JwtRefusal::Invalid("JWT without kid"))?;
        let set = self.current();
        let key = set
            .keys
            .iter()
            .find(|k| k.kid == kid && self.published(k, now))
            .or_else(|| set.next.iter().find(|k| k.kid == kid))
            .ok_or(JwtRefusal::Invalid("unknown signing key"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[issuer]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub", "jti"]);
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|_| JwtRefusal::Invalid("bad JWT signature or claims"))
    }

    /// HMAC-SHA256 of `input` under a secret derived from each published
    /// key, newest first: the first for new values, all to recognise one
    /// made before a rotation.
    pub fn keyed_hashes(&self, purpose: &str, input: &[u8], now: Timestamp) -> Vec<[u8; 32]> {
        use hmac::Mac;
        let set = self.current();
        set.keys
            .iter()
            .filter(|k| self.published(k, now))
            .chain(set.next.iter())
            .filter_map(|k| {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&k.derived).ok()?;
                mac.update(purpose.as_bytes());
                mac.update(b"\0");
                mac.update(input);
                Some(mac.finalize().into_bytes().into())
            })
            .collect()
    }

    /// `/.well-known/jwks.json`: every key that may have signed a live token.
    pub fn jwks(&self, now: Timestamp) -> serde_json::Value {
        let set = self.current();
        let keys: Vec<_> = set
            .keys
            .iter()
            .filter(|k| self.published(k, now))
            .chain(set.next.iter())
            .map(|k| json!({"kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid, "alg": "EdDSA", "use": "sig"}))
            .collect();
        json!({ "keys": keys })
    }

    /// Creation times, newest first (for operators).
    pub fn created_times(&self) -> Vec<Timestamp> {
        self.current().keys.iter().map(|k| k.created_at).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        iss: String,
        aud: String,
        sub: String,
        iat: i64,
        exp: i64,
        jti: String,
    }

    fn claims() -> Claims {
        Claims { iss: "https://i".into(), aud: "https://i".into(), sub: "s".into(), iat: 1, exp: 2, jti: "j".into() }
    }

    #[test]
    fn signs_verifies_and_rotates() {
        let dir = tempfile::TempDir::new().unwrap();
        let now = Timestamp(1_000_000);
        let keys = SigningKeys::load_or_create(dir.path(), 900, now).unwrap();
        let first_kid = keys.active_kid();
        assert_eq!(first_kid.len(), 43);
        let jwt = keys.sign(&claims()).unwrap();
        assert_eq!(keys.verify::<Claims>(&jwt, "https://i", "https://i", now).unwrap(), claims());
        assert!(keys.verify::<Claims>(&jwt, "https://other", "https://i", now).is_err());
        assert!(keys.verify::<Claims>(&jwt, "https://i", "https://other", now).is_err());

        // The signing key and the next one are published from the start.
        assert_eq!(keys.jwks(now)["keys"].as_array().unwrap().len(), 2);

        let promoted = SigningKeys::rotate(dir.path(), Timestamp(now.0 + 10)).unwrap();
        assert!(keys.reload_if_changed().unwrap());
        assert!(!keys.reload_if_changed().unwrap(), "nothing changed since");
        assert_ne!(keys.active_kid(), first_kid);
        assert_eq!(keys.active_kid(), promoted);
        let later = Timestamp(now.0 + 100);
        assert!(keys.verify::<Claims>(&jwt, "https://i", "https://i", later).is_ok(), "old key still verifies");
        assert_eq!(keys.jwks(later)["keys"].as_array().unwrap().len(), 3, "old, signing, next");
        let much_later = Timestamp(now.0 + 10 + 901);
        assert_eq!(keys.jwks(much_later)["keys"].as_array().unwrap().len(), 2);
        assert!(keys.verify::<Claims>(&jwt, "https://i", "https://i", much_later).is_err());
    }

    /// Two replicas on one key directory: after a rotation the replica that
    /// reloaded first signs with the promoted key, and the one that has not
    /// reloaded yet verifies it (it was published as "next").
    #[test]
    fn a_replica_that_has_not_reloaded_verifies_the_promoted_key() {
        let dir = tempfile::TempDir::new().unwrap();
        let now = Timestamp(1_000_000);
        let early = SigningKeys::load_or_create(dir.path(), 900, now).unwrap();
        let late = SigningKeys::load_or_create(dir.path(), 900, now).unwrap();
        assert_eq!(early.active_kid(), late.active_kid(), "no second key was made");
        let promoted = SigningKeys::rotate(dir.path(), Timestamp(now.0 + 60)).unwrap();
        let published: Vec<String> =
            late.jwks(now)["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
        assert!(published.contains(&promoted), "published before it signs");
        early.reload().unwrap();
        let jwt = early.sign(&claims()).unwrap();
        let at = Timestamp(now.0 + 61);
        assert_eq!(late.verify::<Claims>(&jwt, "https://i", "https://i", at).unwrap(), claims());
        // And what the late replica still signs, the early one verifies.
        let old = late.sign(&claims()).unwrap();
        assert!(early.verify::<Claims>(&old, "https://i", "https://i", at).is_ok());
    }

    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::TempDir::new().unwrap();
        SigningKeys::load_or_create(dir.path(), 900, Timestamp(5)).unwrap();
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let file = file.unwrap().path();
            assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn refuses_tampered_and_foreign_tokens() {
        let dir = tempfile::TempDir::new().unwrap();
        let keys = SigningKeys::load_or_create(dir.path(), 900, Timestamp(5)).unwrap();
        let jwt = keys.sign(&claims()).unwrap();
        let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
        parts[1] =
            URL_SAFE_NO_PAD.encode(br#"{"iss":"https://i","aud":"https://i","sub":"admin","iat":1,"exp":2,"jti":"j"}"#);
        assert!(keys.verify::<Claims>(&parts.join("."), "https://i", "https://i", Timestamp(5)).is_err());
        let other = tempfile::TempDir::new().unwrap();
        let foreign = SigningKeys::load_or_create(other.path(), 900, Timestamp(5)).unwrap().sign(&claims()).unwrap();
        assert!(keys.verify::<Claims>(&foreign, "https://i", "https://i", Timestamp(5)).is_err());
        assert!(keys.verify::<Claims>("eyJhbGciOiJub25lIn0.e30.", "https://i", "https://i", Timestamp(5)).is_err());
    }
}

//! The authentication engine: every credential kind and every check, in one
//! place, without HTTP. Two steps:
//!
//! 1. [`prepare`] does the work that needs no database: the token's shape
//!    and checksum, Latchkey's own JWT signature and expiry, and for a
//!    key-bound session the request signature (headers, nonce, timestamp
//!    skew first, then Ed25519). A forged, stale or malformed request is
//!    refused here and costs no database visit.
//! 2. [`resolve`] makes the one visit: the lookup and every liveness check
//!    (expiry, revocation, membership, Agent Security Mode, agent status,
//!    audience, certificate status, session binding) and, for a session, the
//!    replay record. It runs on whatever connection or transaction the
//!    caller holds, so a route that writes (a checkout) authenticates inside
//!    its own transaction and a revoke can never slip between the check and
//!    the write.
//!
//! Adding a credential kind means a [`Prepared`] variant, its arm in
//! [`prepare`] and its verifier in [`resolve`].

use crate::db::Connection;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::crypto::keys::SigningKeys;
use crate::crypto::token::{self, TokenKind};
use crate::crypto::{rsa_cert, signing};
use crate::db;
use crate::domain::agents::AgentStatus;
use crate::domain::ids::{PatId, WorkspaceId};
use crate::domain::pats::{Audience, Scope};
use crate::domain::principal::{BoundAgent, Credential, CredentialKind, Principal};
use crate::domain::security_mode;
use crate::error::{AppError, SignatureContext, SignatureFailure};

mod checks;
mod verified;

use checks::{certificate_jwt, check_pat, oauth_access, pat_of_jwt};
use verified::Verified;
pub use verified::VerifiedJwts;

/// Proof-of-possession confirmation (RFC 7800): the session key's thumbprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cnf {
    pub jkt: String,
}

/// Claims of a JWT Latchkey signs: exchanged (`/v1/auth/exchange`) or a
/// key-bound runtime session (`/api/agent/auth/pat`, with `cnf`, `sid` and
/// the session's public key, so a request signature is checked before any
/// database visit).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub pat_id: String,
    pub workspace_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Cnf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// base64url of the raw Ed25519 session key (its thumbprint is `cnf.jkt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// What the credential is being used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// As a bearer on an API route.
    Direct,
    /// Traded in at an exchange endpoint.
    Exchange,
    /// Looked at by a resource server through `/v1/introspect`.
    Introspect,
}

/// The instance's settings the engine needs; built once at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The public URL: issuer and audience of Latchkey's JWTs.
    pub issuer: String,
    /// Where Agent Security Mode is turned on (for the recovery block).
    pub settings_url: String,
    pub signature_skew_seconds: i64,
    pub cert_jwt_max_ttl_seconds: i64,
    pub superadmin_domain: Option<String>,
}

/// What the database-free step works with.
pub struct Verifiers<'a> {
    pub keys: &'a SigningKeys,
    pub verified: &'a VerifiedJwts,
}

/// The parts of a request a signature covers, as they came on the wire.
#[derive(Debug, Clone, Copy)]
pub struct SignedFacts<'a> {
    pub method: &'a str,
    /// Path and query exactly as sent.
    pub path_and_query: &'a str,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// Lower-case hex SHA-256 of the body the canonical string covers.
    pub body_sha256_hex: &'a str,
    /// A `Content-Digest` header that is malformed or names another body:
    /// the message for the 400, checked for key-bound sessions only.
    pub content_digest_problem: Option<&'a str>,
}

/// A refusal, and what the audit trail should say about it.
#[derive(Debug)]
pub struct Refusal {
    pub error: AppError,
    pub reason: &'static str,
    pub workspace: Option<WorkspaceId>,
}

impl Refusal {
    fn new(error: AppError, reason: &'static str, workspace: Option<&WorkspaceId>) -> Refusal {
        Refusal { error, reason, workspace: workspace.cloned() }
    }

    fn unknown(reason: &'static str) -> Refusal {
        Refusal::new(AppError::AuthUnknownToken, reason, None)
    }

    /// An internal failure (the database): not the caller's doing, not audited.
    pub fn internal(error: AppError) -> Refusal {
        Refusal { error, reason: "", workspace: None }
    }

    pub fn is_internal(&self) -> bool {
        matches!(self.error, AppError::Internal(_))
    }
}

/// A request signature that has been checked as far as it can be without
/// the database.
#[derive(Debug, Clone)]
pub struct SignatureProof {
    /// SHA-256 of the signature bytes: the replay table's key.
    hash: [u8; 32],
    /// The signed timestamp: a replay carries the same one.
    ts: i64,
    /// Set when the JWT did not carry the session key (sessions started
    /// before it did): the signature is verified against the stored key.
    pending: Option<(String, ed25519_dalek::Signature)>,
    context: SignatureContext,
}

/// A credential after [`prepare`]: what remains needs the database.
#[derive(Debug, Clone)]
pub enum Prepared {
    Pat {
        hash: [u8; 32],
    },
    AccessToken {
        /// The token's selector, its row's id.
        id: String,
        hash: [u8; 32],
    },
    /// An exchanged JWT, not bound to a key.
    Jwt {
        claims: Box<ExchangeClaims>,
    },
    /// A key-bound session JWT; `proof` is `None` only for introspection.
    Session {
        claims: Box<ExchangeClaims>,
        jkt: String,
        proof: Option<SignatureProof>,
    },
    /// An OAuth access JWT (RFC 9068), signature checked; the grant is
    /// read in [`resolve`].
    OAuthAccess {
        claims: Box<crate::domain::oauth::AccessClaims>,
    },
    /// An RS256 JWT of a workspace certificate; verified in [`resolve`]
    /// once the certificate's key is read.
    CertificateJwt {
        token: String,
        kid: String,
        delegated: bool,
    },
}

impl Prepared {
    /// Whether [`resolve`] writes and so must run in a write transaction:
    /// a session's replay record, or a delegated user's provisioning.
    pub fn needs_write(&self) -> bool {
        match self {
            Prepared::Session { proof, .. } => proof.is_some(),
            Prepared::CertificateJwt { delegated, .. } => *delegated,
            Prepared::Pat { .. }
            | Prepared::AccessToken { .. }
            | Prepared::Jwt { .. }
            | Prepared::OAuthAccess { .. } => false,
        }
    }

    pub fn is_session(&self) -> bool {
        matches!(self, Prepared::Session { .. })
    }
}

/// Step one: everything that needs no database. `facts` are needed only
/// for key-bound sessions used directly.
pub fn prepare(
    presented: &str,
    usage: Use,
    facts: Option<&SignedFacts<'_>>,
    verifiers: &Verifiers<'_>,
    settings: &Settings,
    now: Timestamp,
) -> Result<Prepared, Refusal> {
    let only_pat =
        |reason| Err(Refusal::new(AppError::Validation("token: only a PAT can be exchanged.".into()), reason, None));
    if presented.starts_with(TokenKind::Pat.prefix()) {
        let hash = token::parse(TokenKind::Pat, presented).ok_or(Refusal::unknown("bad token checksum"))?;
        return Ok(Prepared::Pat { hash });
    }
    if presented.starts_with(TokenKind::AccessToken.prefix()) {
        if usage == Use::Exchange {
            return only_pat("access token presented for exchange");
        }
        let hash = token::parse(TokenKind::AccessToken, presented).ok_or(Refusal::unknown("bad token checksum"))?;
        let id = token::selector(TokenKind::AccessToken, presented).unwrap_or_default().to_string();
        return Ok(Prepared::AccessToken { id, hash });
    }
    if !presented.starts_with("eyJ") {
        return Err(Refusal::unknown("unrecognised token format"));
    }
    let header = rsa_cert::peek_header(presented);
    if let Some((alg, kid, _)) = &header
        && *alg == jsonwebtoken::Algorithm::RS256
    {
        if usage == Use::Exchange {
            return only_pat("certificate JWT presented for exchange");
        }
        let kid = kid.clone().ok_or(Refusal::unknown("certificate JWT without kid"))?;
        let delegated = rsa_cert::peek_maybe_delegated(presented);
        return Ok(Prepared::CertificateJwt { token: presented.to_string(), kid, delegated });
    }
    if usage == Use::Exchange {
        return only_pat("JWT presented for exchange");
    }
    if header.as_ref().and_then(|(_, _, typ)| typ.as_deref()) == Some("at+jwt") {
        // Verified once per token, like session JWTs.
        let digest = crate::crypto::sha256(presented.as_bytes());
        let claims = match verifiers.verified.get_access(&digest) {
            Ok(claims) => claims,
            Err(generation) => {
                let claims: crate::domain::oauth::AccessClaims = verifiers
                    .keys
                    .verify_access_token(presented, &settings.issuer, now)
                    .map_err(|_| Refusal::unknown("access token not signed by this server"))?;
                verifiers.verified.insert_access(digest, &claims, generation);
                claims
            }
        };
        if claims.exp <= now.0 {
            let ws = WorkspaceId(claims.workspace_id.clone());
            return Err(Refusal::new(AppError::AuthTokenExpired, "OAuth access token expired", Some(&ws)));
        }
        return Ok(Prepared::OAuthAccess { claims: Box::new(claims) });
    }
    let digest = crate::crypto::sha256(presented.as_bytes());
    let Verified { claims, session_key } = match verifiers.verified.get(&digest) {
        Ok(verified) => verified,
        Err(generation) => {
            let claims: ExchangeClaims = verifiers
                .keys
                .verify(presented, &settings.issuer, &settings.issuer, now)
                .map_err(|_| Refusal::unknown("JWT not signed by this server"))?;
            let verified = Verified::new(claims);
            verifiers.verified.insert(digest, &verified, generation);
            verified
        }
    };
    let ws = WorkspaceId(claims.workspace_id.clone());
    if claims.exp <= now.0 {
        return Err(Refusal::new(AppError::AuthTokenExpired, "JWT expired", Some(&ws)));
    }
    let Some(cnf) = claims.cnf.clone() else { return Ok(Prepared::Jwt { claims: Box::new(claims) }) };
    // Introspection reports the binding; the resource server checks the
    // signature of the request it received itself.
    let proof = match (usage, facts) {
        (Use::Introspect, _) => None,
        (_, None) => {
            let context = SignatureContext { server_body_sha256: crate::crypto::sha256_hex(b""), server_time: now.0 };
            return Err(Refusal::new(
                AppError::Signature(SignatureFailure::Required, context),
                "signature headers missing",
                Some(&ws),
            ));
        }
        (_, Some(facts)) => Some(
            check_signature(facts, session_key.as_ref(), settings, now)
                .map_err(|(e, r)| Refusal::new(e, r, Some(&ws)))?,
        ),
    };
    Ok(Prepared::Session { jkt: cnf.jkt, claims: Box::new(claims), proof })
}

/// `X-Agent-Nonce`: 1–64 characters of `[A-Za-z0-9_-]`.
fn valid_nonce(n: &str) -> bool {
    (1..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Headers, nonce, timestamp (before any signature arithmetic), then the
/// Ed25519 signature with the key the JWT carries (`None` for sessions
/// whose JWT predates it: checked against the stored key in [`resolve`]).
fn check_signature(
    facts: &SignedFacts<'_>,
    session_key: Option<&ed25519_dalek::VerifyingKey>,
    settings: &Settings,
    now: Timestamp,
) -> Result<SignatureProof, (AppError, &'static str)> {
    let context = SignatureContext { server_body_sha256: facts.body_sha256_hex.to_string(), server_time: now.0 };
    let fail = |kind, reason| (AppError::Signature(kind, context.clone()), reason);
    if let Some(problem) = facts.content_digest_problem {
        return Err((AppError::Validation(problem.to_string()), "content digest mismatch"));
    }
    if let Some(nonce) = facts.nonce
        && !valid_nonce(nonce)
    {
        return Err((
            AppError::Validation("X-Agent-Nonce: 1 to 64 characters from A-Z, a-z, 0-9, _ and -.".into()),
            "bad nonce",
        ));
    }
    let (Some(ts_raw), Some(sig_raw)) = (facts.timestamp, facts.signature) else {
        return Err(fail(SignatureFailure::Required, "signature headers missing"));
    };
    let ts: i64 = ts_raw.parse().map_err(|_| fail(SignatureFailure::Invalid, "timestamp not unix seconds"))?;
    let skew = settings.signature_skew_seconds;
    if now.0.abs_diff(ts) > skew.unsigned_abs() {
        return Err(fail(SignatureFailure::TimestampSkew, "timestamp outside the skew window"));
    }
    let signature =
        signing::decode_signature(sig_raw).ok_or_else(|| fail(SignatureFailure::Invalid, "signature not base64"))?;
    let canonical =
        signing::canonical_string(facts.method, facts.path_and_query, ts_raw, facts.body_sha256_hex, facts.nonce);
    let pending = match session_key {
        Some(key) => {
            if !signing::verify_with(key, &canonical, &signature) {
                return Err(fail(SignatureFailure::Invalid, "bad signature"));
            }
            None
        }
        None => Some((canonical, signature)),
    };
    Ok(SignatureProof { hash: crate::crypto::sha256(&signature.to_bytes()), ts, pending, context })
}

/// Step two: the one database visit. `conn` is a transaction when
/// [`Prepared::needs_write`] says so.
pub fn resolve(
    conn: &Connection,
    prepared: &Prepared,
    usage: Use,
    settings: &Settings,
    now: Timestamp,
) -> Result<Principal, Refusal> {
    let internal = Refusal::internal;
    match prepared {
        Prepared::Pat { hash } => {
            let auth =
                db::pats::find_auth_by_hash(conn, hash).map_err(internal)?.ok_or(Refusal::unknown("unknown token"))?;
            let (id, expires_at) = (auth.pat.id.0.clone(), auth.pat.expires_at);
            check_pat(auth, CredentialKind::Pat, id, expires_at, usage, settings, now)
        }
        Prepared::Jwt { claims } => {
            let auth = pat_of_jwt(conn, claims)?;
            let mut p =
                check_pat(auth, CredentialKind::Jwt, claims.jti.clone(), Timestamp(claims.exp), usage, settings, now)?;
            p.credential.issued_at = Some(Timestamp(claims.iat));
            Ok(p)
        }
        Prepared::Session { claims, jkt, proof } => {
            let sid = claims.sid.as_deref().unwrap_or_default();
            let (auth, session) = db::pats::find_auth_with_session(conn, &PatId(claims.pat_id.clone()), sid)
                .map_err(internal)?
                .ok_or(Refusal::unknown("JWT of a deleted PAT"))?;
            if auth.workspace.id.0 != claims.workspace_id {
                return Err(Refusal::unknown("JWT workspace mismatch"));
            }
            let session = session
                .filter(|s| &s.key_thumbprint == jkt)
                .ok_or(Refusal::unknown("session JWT without its session"))?;
            let ws = auth.workspace.id.clone();
            let mut p = check_pat(
                auth,
                CredentialKind::Session,
                session.id.clone(),
                Timestamp(claims.exp),
                usage,
                settings,
                now,
            )?;
            p.credential.issued_at = Some(Timestamp(claims.iat));
            p.credential.key_thumbprint = Some(session.key_thumbprint.clone());
            // After the PAT's own checks, so a disabled agent says so.
            if session.ended_at.is_some() {
                return Err(Refusal::new(AppError::AuthTokenRevoked, "session ended", Some(&ws)));
            }
            if let Some(proof) = proof {
                if let Some((canonical, signature)) = &proof.pending
                    && !signing::verify(&session.public_key, canonical, signature)
                {
                    return Err(Refusal::new(
                        AppError::Signature(SignatureFailure::Invalid, proof.context.clone()),
                        "bad signature",
                        Some(&ws),
                    ));
                }
                // The clock moved on while this waited for the writer: a
                // signature whose replay record may already be gone is no
                // longer fresh either.
                if now.0.abs_diff(proof.ts) > settings.signature_skew_seconds.unsigned_abs() {
                    return Err(Refusal::new(
                        AppError::Signature(SignatureFailure::TimestampSkew, proof.context.clone()),
                        "timestamp left the skew window",
                        Some(&ws),
                    ));
                }
                // A second's margin past the window.
                let oldest = now.0.saturating_sub(settings.signature_skew_seconds).saturating_sub(1);
                db::signature_replays::delete_older_than(conn, oldest).map_err(internal)?;
                if !db::signature_replays::insert_new(conn, proof.ts, &proof.hash).map_err(internal)? {
                    return Err(Refusal::new(
                        AppError::Signature(SignatureFailure::Replayed, proof.context.clone()),
                        "signature replayed",
                        Some(&ws),
                    ));
                }
            }
            Ok(p)
        }
        Prepared::AccessToken { id, hash } => {
            let auth = db::access_tokens::find_auth(conn, id, hash)
                .map_err(internal)?
                .ok_or(Refusal::unknown("unknown access token"))?;
            let ws = auth.workspace.id.clone();
            if auth.expires_at <= now {
                return Err(Refusal::new(AppError::AuthTokenExpired, "access token expired", Some(&ws)));
            }
            security_mode::require_on(&auth.workspace, &settings.settings_url)
                .map_err(|e| Refusal::new(e, "agent security mode off", Some(&ws)))?;
            if auth.agent_status != Some(AgentStatus::Active) {
                return Err(Refusal::new(AppError::AgentDisabled, "agent not active", Some(&ws)));
            }
            Ok(Principal {
                workspace: auth.workspace,
                user: None,
                credential: Credential {
                    kind: CredentialKind::AccessToken,
                    id: auth.id,
                    pat_id: None,
                    scope: Scope::Agent,
                    audience: Audience::Api,
                    expires_at: auth.expires_at,
                    pat_last_used_at: None,
                    issued_at: None,
                    key_thumbprint: None,
                    oauth: None,
                },
                agent: Some(BoundAgent { id: auth.agent_id, name: auth.agent_name }),
            })
        }
        Prepared::CertificateJwt { token, kid, delegated } => {
            certificate_jwt(conn, token, kid, *delegated, usage, settings, now)
        }
        Prepared::OAuthAccess { claims } => oauth_access(conn, claims, settings),
    }
}

/// `LATCHKEY_SUPERADMIN_DOMAIN`: password users of that domain only.
pub fn is_instance_admin(superadmin_domain: Option<&str>, email: &str, auto_provisioned: bool) -> bool {
    match superadmin_domain {
        Some(domain) if !auto_provisioned => {
            email.rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_follow_the_documented_alphabet_and_length() {
        assert!(valid_nonce("abc-DEF_123"));
        assert!(valid_nonce(&"a".repeat(64)));
        for bad in ["", "has space", "dot.", &"a".repeat(65), "ümlaut"] {
            assert!(!valid_nonce(bad), "{bad}");
        }
    }

    #[test]
    fn instance_admins_are_password_users_of_the_domain() {
        assert!(is_instance_admin(Some("example.com"), "a@Example.COM", false));
        assert!(!is_instance_admin(Some("example.com"), "a@example.com", true));
        assert!(!is_instance_admin(Some("example.com"), "a@example.org", false));
        assert!(!is_instance_admin(None, "a@example.com", false));
    }
}

//! `latchkey agent enroll|token|session` and `latchkey request`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use super::api::Api;
use super::store::{self, Enrollment, Login, SessionFile};
use super::{creds, env};
use crate::cli::CliError;
use crate::crypto::sha256_hex;
use crate::wire::agents::{Bootstrap, EcJwk, Enrolled};
use crate::wire::checkouts::PendingApproval;
use crate::wire::tokens::{BearerToken, Session, StartSession};

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The server: `LATCHKEY_URL`, or the stored login's.
fn server_url() -> Result<String, CliError> {
    if let Some(url) = env("LATCHKEY_URL") {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let dir = store::config_dir()?;
    let login: Option<Login> = store::read_json(&store::login_path(&dir))?;
    login.map(|l| l.url).ok_or_else(|| CliError::Usage("set LATCHKEY_URL or run `latchkey login --url URL`".into()))
}

/// `latchkey agent enroll --bootstrap-secret S`: makes an ES256 key, registers
/// its public half, keeps the private key (0600).
pub fn enroll(bootstrap_secret: &str, url: Option<&str>) -> Result<(), CliError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let url = match url {
        Some(u) => super::parse_url(u)?,
        None => server_url()?,
    };
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = key.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(CliError::Failed("cannot encode the new key".into()));
    };
    let jwk =
        EcJwk { kty: "EC".into(), crv: "P-256".into(), x: URL_SAFE_NO_PAD.encode(x), y: URL_SAFE_NO_PAD.encode(y) };
    let body =
        json!(Bootstrap { bootstrap_secret: Some(bootstrap_secret.trim().to_string()), public_key: Some(json!(jwk)) });
    let done: Enrolled = Api::new(&url).json("POST", "/v1/agents/bootstrap", None, Some(&body))?.into_wire()?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| CliError::Failed(format!("cannot encode the key: {e}")))?;
    let enrollment = Enrollment {
        url: url.clone(),
        agent_id: done.agent_id.clone(),
        workspace_id: done.workspace_id.clone(),
        private_key_pem: pem.to_string(),
    };
    let dir = store::config_dir()?;
    store::write_json(&store::enrollment_path(&dir), &enrollment)?;
    println!("{}", enrollment.agent_id);
    eprintln!(
        "Enrolled agent {} ({}); its key is in {} (mode 0600).",
        done.name,
        enrollment.agent_id,
        store::enrollment_path(&dir).display()
    );
    Ok(())
}

/// `latchkey agent token`: a fresh client assertion traded for an access token.
pub fn token() -> Result<(), CliError> {
    let dir = store::config_dir()?;
    let e: Enrollment = store::read_json(&store::enrollment_path(&dir))?.ok_or_else(|| {
        CliError::Usage("not enrolled: run `latchkey agent enroll --bootstrap-secret S` first".into())
    })?;
    let der = {
        use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        p256::SecretKey::from_pkcs8_pem(&e.private_key_pem).ok().and_then(|k| k.to_pkcs8_der().ok())
    }
    .ok_or_else(|| CliError::Failed(format!("{} holds no usable key", store::enrollment_path(&dir).display())))?;
    let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
    let t = now();
    let jti = hex::encode(crate::crypto::random_bytes::<16>());
    let claims = json!({"iss": e.agent_id, "sub": e.agent_id, "aud": e.url, "iat": t, "exp": t + 60, "jti": jti});
    let assertion = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &key)
        .map_err(|e| CliError::Failed(format!("cannot sign the assertion: {e}")))?;
    let form = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ])
    .map_err(|e| CliError::Failed(e.to_string()))?;
    let reply = Api::new(&e.url).send(
        "POST",
        "/v1/agents/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    )?;
    let body: BearerToken = reply.into_wire()?;
    println!("{}", body.access_token);
    Ok(())
}

/// Starts a key-bound session with the active agent PAT and keeps it (0600).
fn start_session() -> Result<SessionFile, CliError> {
    let c = creds()?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let body = json!(StartSession {
        token: Some(c.token.clone()),
        session_pubkey: Some(Value::String(URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()))),
        label: Some("latchkey cli".into()),
    });
    let s: Session = Api::new(&c.url).json("POST", "/api/agent/auth/pat", None, Some(&body))?.into_wire()?;
    let file = SessionFile {
        url: c.url,
        session_id: s.session_id,
        agent_id: s.agent_id,
        jwt: s.jwt,
        expires_at: now() + s.expires_in,
        key_seed: STANDARD.encode(key.to_bytes()),
    };
    store::write_json(&store::session_path(&store::config_dir()?, &file.url, &c.token), &file)?;
    Ok(file)
}

/// `latchkey agent session`.
pub fn session() -> Result<(), CliError> {
    let s = start_session()?;
    println!("{}", s.session_id);
    eprintln!(
        "Session {} for agent {} until unix time {}; `latchkey request` signs with it.",
        s.session_id, s.agent_id, s.expires_at
    );
    Ok(())
}

/// The stored session if it is still good for a while, else a new one.
fn current_session() -> Result<SessionFile, CliError> {
    let c = creds()?;
    let path = store::session_path(&store::config_dir()?, &c.url, &c.token);
    match store::read_json::<SessionFile>(&path)? {
        Some(s) if s.expires_at > now() + 10 => Ok(s),
        _ => start_session(),
    }
}

/// `latchkey request METHOD PATH [--data JSON|@file]`: a signed request.
pub fn request(method: &str, path: &str, data: Option<&str>, wait: bool) -> Result<(), CliError> {
    let method = method.to_ascii_uppercase();
    if !path.starts_with('/') {
        return Err(CliError::Usage(format!("PATH {path:?} must start with /")));
    }
    let body: Vec<u8> = match data {
        None => Vec::new(),
        Some(d) => match d.strip_prefix('@') {
            Some(file) => std::fs::read(file).map_err(|e| CliError::Usage(format!("--data @{file}: {e}")))?,
            None => d.as_bytes().to_vec(),
        },
    };
    if !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err() {
        return Err(CliError::Usage("--data is not valid JSON".into()));
    }
    let s = current_session()?;
    let mut reply = signed(&s, &method, path, &body)?;
    // An ended or expired session: start another once and send again (a
    // revoked PAT then says so itself).
    if reply.status == 401
        && matches!(reply.body["error_code"].as_str(), Some("AUTH_TOKEN_REVOKED" | "AUTH_TOKEN_EXPIRED"))
    {
        reply = signed(&start_session()?, &method, path, &body)?;
    }
    // A checkout waiting for a person: say so, and with --wait poll for
    // the decision (long polls of 30 s, until it is decided or expires).
    let pending = (reply.status == 202)
        .then(|| serde_json::from_value::<PendingApproval>(reply.body.clone()).ok())
        .flatten()
        .filter(|p| p.status == "pending_approval");
    if let Some(pending) = pending {
        let id = pending.approval_id;
        eprintln!(
            "Waiting for a person: ${} needs approval {} (expires {}).{}",
            pending.amount_usd.as_deref().unwrap_or("?"),
            id,
            pending.expires_at,
            if wait { " Waiting for the decision…" } else { " Run again with --wait to wait for it." }
        );
        if wait {
            // Under the client's 30 s request timeout.
            let poll = format!("/api/agent/approvals/{id}?wait=25");
            loop {
                let mut answer = signed(&s, "GET", &poll, &[])?;
                if answer.status == 401 {
                    answer = signed(&start_session()?, "GET", &poll, &[])?;
                }
                if answer.status != 202 {
                    println!("{}", answer.text);
                    return if answer.ok() { Ok(()) } else { Err(answer.failure()) };
                }
            }
        }
    }
    println!("{}", reply.text);
    if reply.ok() { Ok(()) } else { Err(reply.failure()) }
}

/// One request signed with the session's key and a fresh nonce.
fn signed(s: &SessionFile, method: &str, path: &str, body: &[u8]) -> Result<super::api::Reply, CliError> {
    let seed: [u8; 32] =
        STANDARD.decode(&s.key_seed).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
            CliError::Failed("the stored session key is corrupt; run `latchkey agent session`".into())
        })?;
    let key = SigningKey::from_bytes(&seed);
    let ts = now().to_string();
    // A fresh nonce, signed as the fifth line: two identical requests in
    // the same second are two signatures, not a replay.
    let nonce = crate::crypto::random_base62(24);
    let canonical = format!("{method}\n{path}\n{ts}\n{}\n{nonce}", sha256_hex(body));
    let signature = STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes());
    let auth = format!("Bearer {}", s.jwt);
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("X-Agent-Timestamp", ts.as_str()),
        ("X-Agent-Signature", signature.as_str()),
        ("X-Agent-Nonce", nonce.as_str()),
    ];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    Api::new(&s.url).send(method, path, &headers, (!body.is_empty()).then_some(body))
}

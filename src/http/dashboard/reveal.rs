//! Show-once secrets after a redirect. A form that creates a secret (a
//! token) answers 303 to the new object's "created" page; the secret rides
//! along in a short-lived cookie sealed with AES-256-GCM under a key derived
//! from the server's signing key (so any replica can open it), bound to the
//! browser session and to the object. The created page opens it once and
//! clears it: reloading that page, or the browser's back-and-resubmit,
//! creates nothing and shows nothing again. Nothing secret is stored on the
//! server or put in a URL.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::HtmlError;
use crate::http::auth::Browser;
use crate::state::AppState;

const COOKIE: &str = "latchkey_reveal";
const PURPOSE: &str = "dashboard reveal v1";
/// Long enough for a slow redirect, short enough not to linger.
const MAX_AGE_SECONDS: i64 = 120;

fn aad(browser: &Browser, what: &str) -> Vec<u8> {
    [browser.session.token_hash.as_slice(), b"\0", what.as_bytes()].concat()
}

fn cookie(value: String, secure: bool, max_age: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/dashboard")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// A 303 to `location`, carrying `secret` for the page that shows `what`
/// (e.g. `token:<id>`) once.
pub fn redirect(
    state: &AppState,
    browser: &Browser,
    location: &str,
    what: &str,
    secret: &str,
) -> Result<HttpResponse, HtmlError> {
    let cookie = stash(state, browser, what, secret)
        .ok_or_else(|| HtmlError::Internal(format!("cannot seal the secret of {what} for its page")))?;
    let mut res = super::see_other(location);
    res.add_cookie(&cookie).map_err(|e| HtmlError::Internal(e.to_string()))?;
    Ok(res)
}

/// The show-once page itself: never cached, and the stash forgotten.
pub fn shown(state: &AppState, page: Result<HttpResponse, HtmlError>) -> Result<HttpResponse, HtmlError> {
    let mut res = page?;
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    res.add_cookie(&clear(state)).map_err(|e| HtmlError::Internal(e.to_string()))?;
    Ok(res)
}

/// The cookie that carries `secret` to the page showing `what`.
fn stash(state: &AppState, browser: &Browser, what: &str, secret: &str) -> Option<Cookie<'static>> {
    let now = state.clock.now();
    let key = state.keys.keyed_hashes(PURPOSE, b"", now).into_iter().next()?;
    let sealing = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).ok()?);
    let nonce_bytes = crate::crypto::random_bytes::<NONCE_LEN>();
    let mut sealed = secret.as_bytes().to_vec();
    sealing
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad(browser, what)), &mut sealed)
        .ok()?;
    let value = URL_SAFE_NO_PAD.encode([nonce_bytes.as_slice(), &sealed].concat());
    Some(cookie(value, state.config.is_https(), MAX_AGE_SECONDS))
}

/// The secret stashed for `what` in this browser session, if any (any key
/// that is still published opens it, across a rotation).
pub fn take(req: &HttpRequest, state: &AppState, browser: &Browser, what: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(req.cookie(COOKIE)?.value()).ok()?;
    if raw.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let aad = aad(browser, what);
    for key in state.keys.keyed_hashes(PURPOSE, b"", state.clock.now()) {
        let Ok(unbound) = UnboundKey::new(&AES_256_GCM, &key) else { continue };
        let opening = LessSafeKey::new(unbound);
        let Ok(nonce) = Nonce::try_assume_unique_for_key(nonce) else { return None };
        let mut buf = sealed.to_vec();
        if let Ok(plain) = opening.open_in_place(nonce, Aad::from(aad.as_slice()), &mut buf) {
            return String::from_utf8(plain.to_vec()).ok();
        }
    }
    None
}

/// Tells the browser to forget the stash.
fn clear(state: &AppState) -> Cookie<'static> {
    let mut c = cookie(String::new(), state.config.is_https(), 0);
    c.make_removal();
    c
}

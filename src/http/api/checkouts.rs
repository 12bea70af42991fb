//! Checkouts (PRODUCT.md §5.3): created only over a signed, key-bound
//! session; listed by host and service credentials.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{ListQuery, actor_of, parse_json};
use crate::db;
use crate::db::checkouts::Checkout;
use crate::domain::audit::{self, Event};
use crate::domain::checkouts::{self, CheckoutRequest, Refused, Spender};
use crate::domain::money::AmountCents;
use crate::error::{AppError, CapDetails};
use crate::http::bearer::{AgentSession, HostOrService};
use crate::http::request_meta;
use crate::state::AppState;

pub fn checkout_json(c: &Checkout) -> Value {
    json!({
        "id": c.id,
        "status": c.status,
        "amount_usd": AmountCents::from_cents(c.amount_cents).map(|a| a.to_string()),
        "description": c.description,
        "reference": c.reference,
        "agent_id": c.agent_id,
        "agent_name": c.agent_name,
        "pat_id": c.pat_id,
        "session_id": c.session_id,
        "created_at": c.created_at.to_rfc3339(),
    })
}

fn text_field(body: &Value, name: &str, max: usize, required: bool) -> Result<Option<String>, AppError> {
    match body.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s))
            if !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.trim().to_string()))
        }
        _ => Err(AppError::Validation(format!("{name}: a string of 1 to {max} characters."))),
    }
}

/// A verified key-bound session of an agent: spends against its PAT's
/// daily cap, at most once per `Idempotency-Key`.
pub async fn create_checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    AgentSession(p): AgentSession,
    raw: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let body: Value = parse_json(&raw)?;
    if !body.is_object() {
        return Err(AppError::Validation("The body must be a JSON object.".into()));
    }
    let amount = checkouts::parse_amount(body.get("amount_usd"))?;
    let description = text_field(&body, "description", 200, true)?.unwrap_or_default();
    let reference = text_field(&body, "reference", 200, false)?;
    let idempotency_key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Some(k.to_string()),
            _ => return Err(AppError::Validation("Idempotency-Key: 1 to 200 visible ASCII characters.".into())),
        },
    };
    let request = CheckoutRequest {
        amount,
        description,
        reference,
        idempotency_key,
        body_sha256: crate::crypto::sha256_hex(&raw),
    };
    let agent = p.agent.clone().ok_or(AppError::SessionRequired)?;
    let pat = p.credential.pat_id.clone().ok_or(AppError::SessionRequired)?;
    let (ws, session) = (p.workspace.id.clone(), p.credential.id.clone());
    let (actor, meta, now) = (actor_of(&p), request_meta(&req, &state), state.clock.now());
    let (actor2, meta2) = (actor.clone(), meta.clone());
    let (ws2, pat2) = (ws.clone(), pat.clone());
    let outcome = state
        .db
        .write(move |tx| {
            let who =
                Spender { workspace: &ws, agent: &agent.id, agent_name: &agent.name, pat: &pat, session: &session };
            match checkouts::create(tx, &who, request, now) {
                Ok(created) => {
                    if created.new {
                        let event = Event::success(Some(&ws), &actor, "checkout.created", &meta)
                            .target("checkout", created.checkout.id.clone());
                        audit::record(tx, event, now)?;
                    }
                    Ok(Ok(created))
                }
                Err(Refused::OverCap(over)) => Ok(Err(over)),
                Err(Refused::Other(e)) => Err(e),
            }
        })
        .await?;
    match outcome {
        Ok(created) => {
            let mut json = checkout_json(&created.checkout);
            json["spent_today_usd"] = Value::String(created.spent_today.to_string());
            json["daily_cap_usd"] = Value::String(created.cap.to_string());
            let mut res = HttpResponse::Created();
            if !created.new {
                res.insert_header(("Idempotent-Replayed", "true"));
            }
            Ok(res.json(json))
        }
        Err(over) => {
            let settings_url = state.config.url(&format!("/dashboard/tokens/{pat2}"));
            let reason = format!("over daily cap: {} + {} > {}", over.spent_today, over.attempted, over.cap);
            state
                .db
                .write(move |tx| {
                    let mut event = Event::failure(Some(&ws2), &actor2, "checkout.refused", reason, &meta2);
                    event = event.target("pat", pat2.0.clone());
                    audit::record(tx, event, now)
                })
                .await?;
            Err(AppError::SpendCapExceeded(Box::new(CapDetails {
                settings_url,
                current_cap_usd: over.cap.to_string(),
                attempted_amount_usd: over.attempted.to_string(),
                spent_today_usd: over.spent_today.to_string(),
                resets_at: over.resets_at.to_rfc3339(),
            })))
        }
    }
}

/// A host or service credential: the workspace's checkouts, newest first.
pub async fn list_checkouts(
    state: web::Data<AppState>,
    HostOrService(p): HostOrService,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit()?;
    let before = query.into_inner().before;
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::checkouts::list(conn, &ws, before.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items.iter().map(checkout_json).collect::<Vec<_>>()})))
}

//! Checkouts (docs/API.md §5.3): created only over a signed, key-bound
//! session; listed by host and service credentials.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{ListQuery, actor_of, parse_json};
use crate::db;
use crate::db::checkouts::Checkout;
use crate::domain::audit::{self, Event};
use crate::domain::authn::Refusal;
use crate::domain::checkouts::{self, CheckoutRequest, Created, OverCap, Refused, Spender};
use crate::domain::ids::PatId;
use crate::domain::money::AmountCents;
use crate::domain::principal::Principal;
use crate::error::{AppError, CapDetails};
use crate::http::bearer::{AgentCaller, HostOrService, SignedSession, refused, touch};
use crate::http::request_meta;
use crate::model::ApprovalStatus;
use crate::model::ids::ApprovalId;
use crate::state::AppState;
use crate::wire::Items;
use crate::wire::checkouts as wire;

/// A checkout as the API shows it.
pub fn view(c: &Checkout) -> wire::Checkout<'_> {
    wire::Checkout {
        id: c.id.as_str().into(),
        status: c.status,
        amount_usd: AmountCents::from_cents(c.amount_cents).map(|a| a.to_string()),
        description: c.description.as_str().into(),
        reference: c.reference.as_deref().map(Into::into),
        agent_id: c.agent_id.as_str().into(),
        agent_name: c.agent_name.as_deref().map(Into::into),
        pat_id: c.pat_id.as_str().into(),
        session_id: c.session_id.as_deref().map(Into::into),
        created_at: c.created_at.to_rfc3339(),
        spent_today_usd: None,
        daily_cap_usd: None,
    }
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

fn parse_request(req: &HttpRequest, raw: &[u8]) -> Result<CheckoutRequest, AppError> {
    let body: Value = parse_json(raw)?;
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
    Ok(CheckoutRequest { amount, description, reference, idempotency_key, body_sha256: crate::crypto::sha256_hex(raw) })
}

enum Outcome {
    Created(Box<(Created, Principal)>),
    /// Waits for a person.
    Pending(Box<crate::db::approvals::Approval>),
    OverCap(OverCap, PatId),
    /// The credential was refused inside the transaction.
    Refused(Refusal),
    /// Refused after the credential checked out (a bad body, an idempotency
    /// mismatch): the signature's replay record still commits, so the same
    /// request sent again is a replay.
    Invalid(AppError),
}

/// A key-bound session of an agent with a fresh request signature: spends
/// against its PAT's daily cap, at most once per `Idempotency-Key`. One
/// transaction holds the credential's liveness checks, the signature's
/// replay record, the cap, the insert and the audit row: a checkout can
/// never land after its PAT was revoked.
pub async fn create_checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: SignedSession,
    raw: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let request = parse_request(&req, &raw);
    let (meta, now) = (request_meta(&req, &state), state.clock.now());
    let ttl = state.config.approval_ttl_seconds;
    let (credential, outcome) = state
        .db
        .write_rerunnable(move |tx| {
            let p = match session.resolve(tx, now) {
                Ok(p) => p,
                Err(r) if r.is_internal() => return Err(r.error),
                Err(r) => return Ok((None, Outcome::Refused(r))),
            };
            let credential = p.credential.id.clone();
            decide(tx, p, &request, &meta, ttl, now).map(|outcome| (Some(credential), outcome))
        })
        .await?;
    // Every outcome past authentication names its session; a created one
    // is noted again by `touch`, which the other credential paths share.
    if let Some(credential) = credential {
        crate::telemetry::note_credential(credential);
    }
    match outcome {
        Outcome::Created(done) => {
            let (created, p) = *done;
            touch(&state, &p);
            let view = wire::Checkout {
                spent_today_usd: Some(created.spent_today.to_string()),
                daily_cap_usd: Some(created.cap.to_string()),
                ..view(&created.checkout)
            };
            let mut res = HttpResponse::Created();
            if !created.new {
                res.insert_header(("Idempotent-Replayed", "true"));
            }
            Ok(res.json(view))
        }
        Outcome::OverCap(over, pat) => {
            state.webhooks.send(
                "cap.exceeded",
                serde_json::json!({"pat_id": pat, "window": over.window, "cap_usd": over.cap.to_string(),
                                   "attempted_amount_usd": over.attempted.to_string(),
                                   "spent_in_window_usd": over.spent_in_window.to_string()}),
                now.0,
            );
            Err(AppError::SpendCapExceeded(Box::new(CapDetails {
                settings_url: state.config.url(&format!("/dashboard/tokens/{pat}")),
                current_cap_usd: over.cap.to_string(),
                attempted_amount_usd: over.attempted.to_string(),
                spent_today_usd: over.spent_today.to_string(),
                resets_at: over.resets_at.to_rfc3339(),
                window: over.window,
                spent_in_window_usd: over.spent_in_window.to_string(),
            })))
        }
        Outcome::Pending(approval) => {
            if approval.requested_at == now {
                state.webhooks.send("approval.requested", approval_view(&approval, now), now.0);
            }
            Ok(pending_answer(&state, &approval))
        }
        Outcome::Refused(refusal) => Err(refused(&req, &state, refusal).await),
        Outcome::Invalid(e) => Err(e),
    }
}

/// The checkout's fate once its session checked out, inside the write.
fn decide(
    tx: &crate::db::Connection,
    p: Principal,
    request: &Result<CheckoutRequest, AppError>,
    meta: &crate::domain::audit::RequestMeta,
    ttl: i64,
    now: crate::clock::Timestamp,
) -> Result<Outcome, AppError> {
    // The write may run again before it commits: it reads the
    // parsed request, never consumes it.
    let request = match request {
        Ok(r) => r.clone(),
        Err(e) => return Ok(Outcome::Invalid(e.clone())),
    };
    let (Some(agent), Some(pat)) = (p.agent.clone(), p.credential.pat_id.clone()) else {
        return Ok(Outcome::Invalid(AppError::SessionRequired));
    };
    let ws = p.workspace.id.clone();
    let actor = actor_of(&p);
    let who =
        Spender { workspace: &ws, agent: &agent.id, agent_name: &agent.name, pat: &pat, session: &p.credential.id };
    match checkouts::create(tx, &who, request, ttl, now) {
        Ok(created) => {
            if created.new {
                let event = Event::success(Some(&ws), &actor, "checkout.created", meta)
                    .target("checkout", created.checkout.id.clone());
                audit::record(tx, event, now)?;
            }
            Ok(Outcome::Created(Box::new((created, p))))
        }
        Err(Refused::OverCap(over)) => {
            let reason =
                format!("over the {} cap: {} + {} > {}", over.window, over.spent_in_window, over.attempted, over.cap);
            let event =
                Event::failure(Some(&ws), &actor, "checkout.refused", reason, meta).target("pat", pat.0.clone());
            audit::record(tx, event, now)?;
            Ok(Outcome::OverCap(over, pat))
        }
        Err(Refused::NeedsApproval(approval)) => {
            if approval.requested_at == now && approval.status == ApprovalStatus::Pending {
                let event = Event::success(Some(&ws), &actor, "approval.requested", meta)
                    .target("approval", approval.id.clone());
                audit::record(tx, event, now)?;
            }
            Ok(Outcome::Pending(approval))
        }
        Err(Refused::Other(AppError::Internal(e))) => Err(AppError::Internal(e)),
        Err(Refused::Other(e)) => Ok(Outcome::Invalid(e)),
    }
}

/// 202 `{status: "pending_approval", …, recovery: await_approval}`.
fn pending_answer(state: &AppState, a: &crate::db::approvals::Approval) -> HttpResponse {
    let poll_url = state.config.url(&format!("/api/agent/approvals/{}", a.id));
    let recovery = crate::error::Recovery::AwaitApproval {
        approval_id: a.id.0.clone(),
        poll_url: poll_url.clone(),
        expires_at: a.expires_at.to_rfc3339(),
    };
    HttpResponse::Accepted().json(wire::PendingApproval {
        status: "pending_approval".into(),
        approval_id: a.id.0.clone(),
        amount_usd: usd(Some(a.amount_cents)),
        expires_at: a.expires_at.to_rfc3339(),
        poll_url,
        recovery: serde_json::to_value(recovery).unwrap_or_default(),
    })
}

/// An approval as hosts see it.
pub fn approval_view(a: &crate::db::approvals::Approval, now: crate::clock::Timestamp) -> wire::Approval {
    wire::Approval {
        id: a.id.0.clone(),
        status: a.status_at(now),
        amount_usd: usd(Some(a.amount_cents)),
        description: a.description.clone(),
        reference: a.reference.clone(),
        agent_id: a.agent_id.0.clone(),
        pat_id: a.pat_id.0.clone(),
        requested_at: a.requested_at.to_rfc3339(),
        expires_at: a.expires_at.to_rfc3339(),
        decided_at: a.decided_at.map(|t| t.to_rfc3339()),
        decided_by: a.decided_by.clone(),
        checkout_id: a.checkout_id.as_ref().map(|c| c.0.clone()),
    }
}

#[derive(serde::Deserialize)]
pub struct WaitQuery {
    wait: Option<u64>,
}

/// `GET /api/agent/approvals/{id}` (signed; `?wait=` up to 30 s long-polls):
/// 202 while pending, 201 with the checkout once approved, 403
/// `APPROVAL_DENIED`, 410 `APPROVAL_EXPIRED`.
pub async fn poll_approval(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: SignedSession,
    id: web::Path<ApprovalId>,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let now = state.clock.now();
    let principal = match state.db.write(move |tx| Ok(session.resolve(tx, now))).await? {
        Ok(p) => p,
        Err(refusal) => return Err(refused(&req, &state, refusal).await),
    };
    crate::telemetry::note_credential(&principal.credential.id);
    let pat = principal.credential.pat_id.clone().ok_or(AppError::SessionRequired)?;
    let ws = principal.workspace.id.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(query.wait.unwrap_or(0).min(30));
    loop {
        let (ws2, id2) = (ws.clone(), id.clone());
        let found = state.db.read(move |conn| crate::db::approvals::find(conn, &ws2, &id2)).await?;
        let a = found.filter(|a| a.pat_id == pat).ok_or(AppError::NotFound)?;
        let now = state.clock.now();
        match a.status_at(now) {
            ApprovalStatus::Approved => {
                let (ws3, checkout) = (
                    ws.clone(),
                    a.checkout_id.clone().ok_or_else(|| AppError::internal("approved without its checkout"))?,
                );
                let pat = pat.clone();
                // The spend of the checkout's own day, as its create answer
                // would have shown it, even when the poll comes after midnight.
                let (c, spent, cap) = state
                    .db
                    .read(move |conn| {
                        let c = crate::db::checkouts::find(conn, &ws3, &checkout)?
                            .ok_or_else(|| AppError::internal("approved without its checkout"))?;
                        let spent = crate::db::checkouts::spent_on_day(conn, &pat, c.utc_day)?;
                        Ok((c, spent, crate::db::pats::find_cap(conn, &pat)?))
                    })
                    .await?;
                // The checkout as its create answer shows it (docs/API.md §5.3).
                return Ok(HttpResponse::Created().json(wire::Checkout {
                    spent_today_usd: Some(checkouts::cents(spent).to_string()),
                    daily_cap_usd: cap.map(|c| c.to_string()),
                    ..view(&c)
                }));
            }
            ApprovalStatus::Denied => return Err(AppError::ApprovalDenied),
            ApprovalStatus::Expired => return Err(AppError::ApprovalExpired),
            ApprovalStatus::Pending if std::time::Instant::now() >= deadline => {
                return Ok(pending_answer(&state, &a));
            }
            ApprovalStatus::Pending => actix_web::rt::time::sleep(std::time::Duration::from_millis(250)).await,
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
    Ok(HttpResponse::Ok().json(Items { items: items.iter().map(view).collect() }))
}

fn usd(cents: Option<i64>) -> Option<String> {
    cents.and_then(AmountCents::from_cents).map(|a| a.to_string())
}

type Usd = wire::Windows<Option<String>>;

/// `{day, week, month}` of what is spent and left, and when each resets.
fn windows(s: &checkouts::Standing) -> (Usd, Usd, wire::Windows<String>) {
    let [day, week, month] = s.windows();
    let spent = wire::Windows { day: usd(Some(day.spent)), week: usd(Some(week.spent)), month: usd(Some(month.spent)) };
    let remaining =
        wire::Windows { day: usd(day.remaining()), week: usd(week.remaining()), month: usd(month.remaining()) };
    let resets = wire::Windows {
        day: day.resets_at.to_rfc3339(),
        week: week.resets_at.to_rfc3339(),
        month: month.resets_at.to_rfc3339(),
    };
    (spent, remaining, resets)
}

/// `POST /api/agent/checkout/preview` (signed, the checkout's body): what a
/// checkout would meet, changing nothing but the signature's replay record.
pub async fn preview_checkout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: SignedSession,
    raw: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let request = parse_request(&req, &raw);
    let now = state.clock.now();
    let outcome = state
        .db
        .write(move |tx| {
            let p = match session.resolve(tx, now) {
                Ok(p) => p,
                Err(r) if r.is_internal() => return Err(r.error),
                Err(r) => return Ok(Err(Outcome::Refused(r))),
            };
            let request = match request {
                Ok(r) => r,
                Err(e) => return Ok(Err(Outcome::Invalid(e))),
            };
            let Some(pat) = p.credential.pat_id.clone() else {
                return Ok(Err(Outcome::Invalid(AppError::SessionRequired)));
            };
            let standing = checkouts::standing(tx, &pat, now)?;
            let refused_by = match checkouts::verdict(&standing, request.amount.cents()) {
                checkouts::Verdict::Allowed => None,
                checkouts::Verdict::OverMax(_) => Some("max_checkout"),
                checkouts::Verdict::OverCap(w) => Some(w.name.as_str()),
            };
            Ok(Ok((standing, refused_by, p.credential.id)))
        })
        .await?;
    match outcome {
        Ok((standing, refused_by, credential)) => {
            crate::telemetry::note_credential(credential);
            let (_, remaining_usd, resets_at) = windows(&standing);
            Ok(HttpResponse::Ok().json(wire::Preview {
                allowed: refused_by.is_none(),
                needs_approval: false,
                refused_by: refused_by.map(str::to_string),
                remaining_usd,
                resets_at,
            }))
        }
        Err(Outcome::Refused(refusal)) => Err(refused(&req, &state, refusal).await),
        Err(Outcome::Invalid(e)) => Err(e),
        Err(_) => Err(AppError::internal("unexpected preview outcome")),
    }
}

/// `GET /api/agent/budget` (any agent credential): the PAT's limits, what
/// is spent and left in each window, and when each resets.
pub async fn budget(state: web::Data<AppState>, AgentCaller(p): AgentCaller) -> Result<HttpResponse, AppError> {
    let pat = p.credential.pat_id.clone().ok_or_else(|| {
        AppError::Scope("This credential has no PAT behind it, so no budget: use the agent's PAT or a session.".into())
    })?;
    let now = state.clock.now();
    let id = pat.clone();
    let standing = state.db.read(move |conn| checkouts::standing(conn, &id, now)).await?;
    let (spent_usd, remaining_usd, resets_at) = windows(&standing);
    let b = &standing.budget;
    Ok(HttpResponse::Ok().json(wire::Standing {
        pat_id: pat.0,
        limits: wire::Limits {
            daily_cap_usd: usd(standing.day.cap),
            weekly_cap_usd: usd(b.weekly_cap_cents),
            monthly_cap_usd: usd(b.monthly_cap_cents),
            max_checkout_usd: usd(b.max_checkout_cents),
            over_limit: b.over_limit,
            approval_above_usd: usd(b.approval_above_cents),
        },
        spent_usd,
        remaining_usd,
        resets_at,
    }))
}

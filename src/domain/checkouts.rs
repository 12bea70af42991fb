//! Checkouts: payment-impacting actions under a PAT's daily spend cap
//! (PRODUCT.md §5.3). The cap check and the insert happen in one
//! `BEGIN IMMEDIATE` transaction, so racing requests can never exceed it.

use rusqlite::Connection;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::db;
use crate::db::checkouts::Checkout;
use crate::domain::ids::{AgentId, PatId, WorkspaceId};
use crate::domain::money::AmountCents;
use crate::error::AppError;

const SECONDS_PER_DAY: i64 = 86_400;

/// The cap's day: UTC days since the epoch.
pub fn utc_day(t: Timestamp) -> i64 {
    t.0.div_euclid(SECONDS_PER_DAY)
}

/// Next UTC midnight: when today's spend resets.
pub fn resets_at(t: Timestamp) -> Timestamp {
    Timestamp((utc_day(t) + 1) * SECONDS_PER_DAY)
}

/// `amount_usd`: a decimal string, more than zero, at most two decimals, at
/// most 1,000,000.00.
pub fn parse_amount(v: Option<&Value>) -> Result<AmountCents, AppError> {
    let bad = || {
        AppError::InvalidAmount(
            "amount_usd: a decimal string like \"5.50\", more than 0, at most 2 decimals, at most 1000000.00.".into(),
        )
    };
    match v {
        Some(Value::String(s)) => AmountCents::parse(s).filter(|a| a.cents() > 0).ok_or_else(bad),
        _ => Err(bad()),
    }
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub amount: AmountCents,
    pub description: String,
    pub reference: Option<String>,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the raw body, to tell a retry from a different request.
    pub body_sha256: String,
}

/// Who spends: the session's agent and PAT.
pub struct Spender<'a> {
    pub workspace: &'a WorkspaceId,
    pub agent: &'a AgentId,
    pub agent_name: &'a str,
    pub pat: &'a PatId,
    pub session: &'a str,
}

pub struct Created {
    pub checkout: Checkout,
    /// False when an Idempotency-Key returned an earlier checkout.
    pub new: bool,
    pub spent_today: AmountCents,
    pub cap: AmountCents,
}

/// The refusal, with everything `raise_pat_cap` needs.
pub struct OverCap {
    pub cap: AmountCents,
    pub attempted: AmountCents,
    pub spent_today: AmountCents,
    pub resets_at: Timestamp,
}

pub enum Refused {
    OverCap(OverCap),
    Other(AppError),
}

impl From<AppError> for Refused {
    fn from(e: AppError) -> Self {
        Refused::Other(e)
    }
}

fn cents(c: i64) -> AmountCents {
    AmountCents::from_cents(c.clamp(0, crate::domain::money::MAX_CENTS)).unwrap_or(AmountCents::ZERO)
}

/// Creates a checkout if the PAT's cap allows it; run inside one write
/// transaction.
pub fn create(tx: &Connection, who: &Spender<'_>, req: CheckoutRequest, now: Timestamp) -> Result<Created, Refused> {
    let day = utc_day(now);
    let cap = db::pats::find_cap(tx, who.pat)?.ok_or(AppError::NotFound)?;
    if let Some(key) = &req.idempotency_key
        && let Some(earlier) = db::checkouts::find_by_idempotency_key(tx, who.pat, key)?
    {
        if earlier.request_sha256.as_deref() != Some(req.body_sha256.as_str()) {
            return Err(Refused::Other(AppError::IdempotencyMismatch));
        }
        let spent = db::checkouts::spent_on_day(tx, who.pat, day)?;
        return Ok(Created { checkout: earlier, new: false, spent_today: cents(spent), cap });
    }
    let spent = db::checkouts::spent_on_day(tx, who.pat, day)?;
    if spent + req.amount.cents() > cap.cents() {
        return Err(Refused::OverCap(OverCap {
            cap,
            attempted: req.amount,
            spent_today: cents(spent),
            resets_at: resets_at(now),
        }));
    }
    let checkout = Checkout {
        id: db::new_id(),
        workspace_id: who.workspace.clone(),
        agent_id: who.agent.clone(),
        agent_name: Some(who.agent_name.to_string()),
        pat_id: who.pat.clone(),
        session_id: Some(who.session.to_string()),
        amount_cents: req.amount.cents(),
        description: req.description,
        reference: req.reference,
        status: "authorized".into(),
        utc_day: day,
        idempotency_key: req.idempotency_key,
        request_sha256: Some(req.body_sha256),
        created_at: now,
    };
    db::checkouts::insert(tx, &checkout)?;
    db::checkouts::add_spend(tx, who.pat, day, req.amount.cents())?;
    Ok(Created { checkout, new: true, spent_today: cents(spent + req.amount.cents()), cap })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_turns_at_utc_midnight() {
        let before = Timestamp(1_763_855_999); // 2025-11-22T23:59:59Z
        assert_eq!(utc_day(before) + 1, utc_day(Timestamp(before.0 + 1)));
        assert_eq!(resets_at(before).to_rfc3339(), "2025-11-23T00:00:00Z");
    }

    #[test]
    fn amounts_must_be_positive_decimal_strings() {
        assert_eq!(parse_amount(Some(&Value::String("5.50".into()))).unwrap().cents(), 550);
        for bad in [
            serde_json::json!("0"),
            serde_json::json!("0.00"),
            serde_json::json!(5.5),
            serde_json::json!("-1"),
            serde_json::json!("1.234"),
        ] {
            assert!(parse_amount(Some(&bad)).is_err(), "{bad}");
        }
        assert!(parse_amount(None).is_err());
    }
}

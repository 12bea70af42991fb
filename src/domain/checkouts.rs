//! Checkouts: payment-impacting actions under a PAT's daily spend cap
//! (docs/API.md §5.3). The cap check and the insert happen in one
//! `BEGIN IMMEDIATE` transaction, so racing requests can never exceed it.

use crate::db::Connection;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::db;
use crate::db::checkouts::Checkout;
use crate::domain::ids::{AgentId, ApprovalId, CheckoutId, PatId, WorkspaceId};
use crate::domain::money::AmountCents;
use crate::error::AppError;
use crate::model::{ApprovalStatus, CheckoutStatus, OverLimit, Window};

const SECONDS_PER_DAY: i64 = 86_400;

/// The cap's day: UTC days since the epoch.
pub fn utc_day(t: Timestamp) -> i64 {
    t.0.div_euclid(SECONDS_PER_DAY)
}

/// Next UTC midnight: when today's spend resets.
pub fn resets_at(t: Timestamp) -> Timestamp {
    Timestamp((utc_day(t) + 1) * SECONDS_PER_DAY)
}

/// The Monday-based UTC week (1970-01-01 was a Thursday).
pub fn utc_week(t: Timestamp) -> i64 {
    (utc_day(t) + 3).div_euclid(7)
}

/// Next Monday 00:00 UTC.
pub fn week_resets_at(t: Timestamp) -> Timestamp {
    Timestamp(((utc_week(t) + 1) * 7 - 3) * SECONDS_PER_DAY)
}

/// The UTC calendar month as `year * 12 + month - 1`.
pub fn utc_month(t: Timestamp) -> i64 {
    let date = time::OffsetDateTime::from_unix_timestamp(t.0).map(|d| d.date()).unwrap_or(time::Date::MIN);
    i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1
}

/// The first of next month, 00:00 UTC.
pub fn month_resets_at(t: Timestamp) -> Timestamp {
    let next = utc_month(t) + 1;
    let (year, month) = (next.div_euclid(12), next.rem_euclid(12) + 1);
    let date = i32::try_from(year)
        .ok()
        .and_then(|y| time::Month::try_from(month as u8).ok().map(|m| (y, m)))
        .and_then(|(y, m)| time::Date::from_calendar_date(y, m, 1).ok());
    Timestamp(date.map_or(i64::MAX, |d| d.midnight().assume_utc().unix_timestamp()))
}

/// One spending window of a PAT: what is spent in it now, its cap, when it
/// resets.
#[derive(Debug, Clone, Copy)]
pub struct WindowStanding {
    pub name: Window,
    pub spent: i64,
    pub cap: Option<i64>,
    pub resets_at: Timestamp,
}

impl WindowStanding {
    pub fn remaining(&self) -> Option<i64> {
        self.cap.map(|c| (c - self.spent).max(0))
    }
}

/// Where a PAT stands in every window (primary-key reads only).
#[derive(Debug, Clone)]
pub struct Standing {
    pub day: WindowStanding,
    pub week: WindowStanding,
    pub month: WindowStanding,
    pub budget: db::budgets::Budget,
}

impl Standing {
    pub fn windows(&self) -> [WindowStanding; 3] {
        [self.day, self.week, self.month]
    }
}

pub fn standing(conn: &Connection, pat: &PatId, now: Timestamp) -> Result<Standing, AppError> {
    let row = db::budgets::standing(conn, pat, utc_day(now), utc_week(now), utc_month(now))?;
    let db::budgets::Standing { daily_cap_cents, budget, spent: [day, week, month] } = row.ok_or(AppError::NotFound)?;
    let daily = daily_cap_cents.and_then(AmountCents::from_cents).ok_or(AppError::NotFound)?;
    Ok(Standing {
        day: WindowStanding { name: Window::Day, spent: day, cap: Some(daily.cents()), resets_at: resets_at(now) },
        week: WindowStanding {
            name: Window::Week,
            spent: week,
            cap: budget.weekly_cap_cents,
            resets_at: week_resets_at(now),
        },
        month: WindowStanding {
            name: Window::Month,
            spent: month,
            cap: budget.monthly_cap_cents,
            resets_at: month_resets_at(now),
        },
        budget,
    })
}

/// Why a checkout of `amount` would be refused, if it would.
pub enum Verdict {
    Allowed,
    OverMax(i64),
    OverCap(WindowStanding),
}

pub fn verdict(s: &Standing, amount: i64) -> Verdict {
    if let Some(max) = s.budget.max_checkout_cents
        && amount > max
    {
        return Verdict::OverMax(max);
    }
    match s.windows().into_iter().find(|w| w.cap.is_some_and(|c| w.spent + amount > c)) {
        Some(w) => Verdict::OverCap(w),
        None => Verdict::Allowed,
    }
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

/// The refusal, with everything `raise_pat_cap` needs: the window that
/// refused (`day`, `week`, `month`), its cap, spend and reset.
pub struct OverCap {
    pub window: Window,
    pub cap: AmountCents,
    pub attempted: AmountCents,
    pub spent_today: AmountCents,
    pub spent_in_window: AmountCents,
    pub resets_at: Timestamp,
}

pub enum Refused {
    OverCap(OverCap),
    /// Over a limit with `over_limit: ask`, or above `approval_above_usd`:
    /// a person decides (new, or the one this Idempotency-Key asked for).
    NeedsApproval(Box<db::approvals::Approval>),
    Other(AppError),
}

impl From<AppError> for Refused {
    fn from(e: AppError) -> Self {
        Refused::Other(e)
    }
}

/// Cents as an amount, held within the representable range.
pub fn cents(c: i64) -> AmountCents {
    AmountCents::from_cents(c.clamp(0, crate::domain::money::MAX_CENTS)).unwrap_or(AmountCents::ZERO)
}

/// Creates a checkout if the PAT's cap allows it; run inside one write
/// transaction.
pub fn create(
    tx: &Connection,
    who: &Spender<'_>,
    req: CheckoutRequest,
    approval_ttl: i64,
    now: Timestamp,
) -> Result<Created, Refused> {
    let day = utc_day(now);
    // A retry: the checkout it made, or the approval it asked for.
    if let Some(key) = &req.idempotency_key {
        if let Some(earlier) = db::checkouts::find_by_idempotency_key(tx, who.pat, key)? {
            if earlier.request_sha256.as_deref() != Some(req.body_sha256.as_str()) {
                return Err(Refused::Other(AppError::IdempotencyMismatch));
            }
            let cap = db::pats::find_cap(tx, who.pat)?.ok_or(AppError::NotFound)?;
            let spent = db::checkouts::spent_on_day(tx, who.pat, day)?;
            return Ok(Created { checkout: earlier, new: false, spent_today: cents(spent), cap });
        }
        if let Some(asked) = db::approvals::find_by_idempotency_key(tx, who.pat, key)? {
            if asked.request_sha256.as_deref() != Some(req.body_sha256.as_str()) {
                return Err(Refused::Other(AppError::IdempotencyMismatch));
            }
            return Err(Refused::NeedsApproval(Box::new(asked)));
        }
    }
    let standing = standing(tx, who.pat, now)?;
    let spent = standing.day.spent;
    let verdict = verdict(&standing, req.amount.cents());
    let ask = standing.budget.over_limit == OverLimit::Ask && matches!(verdict, Verdict::OverCap(_))
        || (matches!(verdict, Verdict::Allowed)
            && standing.budget.approval_above_cents.is_some_and(|above| req.amount.cents() > above));
    if ask {
        let approval = db::approvals::Approval {
            id: ApprovalId(db::new_id()),
            workspace_id: who.workspace.clone(),
            pat_id: who.pat.clone(),
            agent_id: who.agent.clone(),
            session_id: Some(who.session.to_string()),
            amount_cents: req.amount.cents(),
            description: req.description,
            reference: req.reference,
            idempotency_key: req.idempotency_key,
            request_sha256: Some(req.body_sha256),
            status: ApprovalStatus::Pending,
            requested_at: now,
            expires_at: Timestamp(now.0 + approval_ttl),
            decided_at: None,
            decided_by: None,
            checkout_id: None,
        };
        db::approvals::insert(tx, &approval)?;
        return Err(Refused::NeedsApproval(Box::new(approval)));
    }
    match verdict {
        Verdict::Allowed => {}
        Verdict::OverMax(max) => {
            return Err(Refused::Other(AppError::AmountOverLimit { limit_usd: cents(max).to_string() }));
        }
        Verdict::OverCap(w) => {
            return Err(Refused::OverCap(OverCap {
                window: w.name,
                cap: cents(w.cap.unwrap_or(0)),
                attempted: req.amount,
                spent_today: cents(spent),
                spent_in_window: cents(w.spent),
                resets_at: w.resets_at,
            }));
        }
    }
    let checkout = Checkout {
        id: CheckoutId(db::new_id()),
        workspace_id: who.workspace.clone(),
        agent_id: who.agent.clone(),
        agent_name: Some(who.agent_name.to_string()),
        pat_id: who.pat.clone(),
        session_id: Some(who.session.to_string()),
        amount_cents: req.amount.cents(),
        description: req.description,
        reference: req.reference,
        status: CheckoutStatus::Authorized,
        utc_day: day,
        idempotency_key: req.idempotency_key,
        request_sha256: Some(req.body_sha256),
        created_at: now,
    };
    db::checkouts::insert(tx, &checkout)?;
    db::checkouts::add_spend(tx, who.pat, day, req.amount.cents())?;
    db::budgets::add_spend(tx, who.pat, utc_week(now), utc_month(now), req.amount.cents())?;
    let cap = cents(standing.day.cap.unwrap_or(0));
    Ok(Created { checkout, new: true, spent_today: cents(spent + req.amount.cents()), cap })
}

/// A host decides a pending approval. Approving creates the checkout in
/// this transaction and counts it in every window, even past a cap (the
/// audit says who decided). A member decides only for agents they
/// manage (another's approval is not found). `Err(Conflict)` when it is no
/// longer pending.
pub fn decide(
    tx: &Connection,
    ws: &WorkspaceId,
    id: &ApprovalId,
    approve: bool,
    who: &crate::domain::principal::Acting,
    decider: &str,
    now: Timestamp,
) -> Result<(db::approvals::Approval, bool), AppError> {
    let a = db::approvals::find(tx, ws, id)?.ok_or(AppError::NotFound)?;
    crate::domain::agents::get_manageable(tx, ws, &a.agent_id, who)?;
    let status = a.status_at(now);
    if status != ApprovalStatus::Pending {
        return Err(AppError::Conflict(format!("This approval is no longer pending: it is {status}.")));
    }
    let mut past_cap = false;
    let checkout_id = if approve {
        let s = standing(tx, &a.pat_id, now)?;
        past_cap = !matches!(verdict(&s, a.amount_cents), Verdict::Allowed);
        let checkout = Checkout {
            id: CheckoutId(db::new_id()),
            workspace_id: a.workspace_id.clone(),
            agent_id: a.agent_id.clone(),
            agent_name: None,
            pat_id: a.pat_id.clone(),
            session_id: a.session_id.clone(),
            amount_cents: a.amount_cents,
            description: a.description.clone(),
            reference: a.reference.clone(),
            status: CheckoutStatus::Authorized,
            utc_day: utc_day(now),
            idempotency_key: a.idempotency_key.clone(),
            request_sha256: a.request_sha256.clone(),
            created_at: now,
        };
        db::checkouts::insert(tx, &checkout)?;
        db::checkouts::add_spend(tx, &a.pat_id, utc_day(now), a.amount_cents)?;
        db::budgets::add_spend(tx, &a.pat_id, utc_week(now), utc_month(now), a.amount_cents)?;
        Some(checkout.id)
    } else {
        None
    };
    let status = if approve { ApprovalStatus::Approved } else { ApprovalStatus::Denied };
    if !db::approvals::decide(tx, id, status, decider, checkout_id.as_ref(), now)? {
        return Err(AppError::Conflict("This approval was decided a moment ago.".into()));
    }
    let decided = db::approvals::find(tx, ws, id)?.ok_or(AppError::NotFound)?;
    Ok((decided, past_cap))
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
    fn weeks_start_on_monday_and_months_on_the_first_utc() {
        let sunday = Timestamp(1_764_460_799); // 2025-11-29T23:59:59Z is a Saturday; +1 day
        let sunday = Timestamp(sunday.0 + 86_400); // Sunday 2025-11-30T23:59:59Z
        let monday = Timestamp(sunday.0 + 1);
        assert_eq!(utc_week(sunday) + 1, utc_week(monday));
        assert_eq!(week_resets_at(sunday).to_rfc3339(), "2025-12-01T00:00:00Z");
        assert_eq!(utc_month(sunday) + 1, utc_month(monday));
        assert_eq!(month_resets_at(sunday).to_rfc3339(), "2025-12-01T00:00:00Z");
        assert_eq!(month_resets_at(Timestamp(1_767_225_599)).to_rfc3339(), "2026-01-01T00:00:00Z");
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

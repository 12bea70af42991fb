//! The `pat_budgets` and `pat_window_spend` tables (docs/API.md §5.9).

use crate::db::{Connection, OptionalExtension, params};

use crate::error::AppError;
use crate::model::OverLimit;
use crate::model::ids::PatId;

/// A PAT's limits beyond its daily cap, in cents; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    pub max_checkout_cents: Option<i64>,
    pub weekly_cap_cents: Option<i64>,
    pub monthly_cap_cents: Option<i64>,
    pub over_limit: OverLimit,
    pub approval_above_cents: Option<i64>,
}

pub fn find(conn: &Connection, pat: &PatId) -> Result<Budget, AppError> {
    let found = super::cached(
        conn,
        "SELECT max_checkout_cents, weekly_cap_cents, monthly_cap_cents, over_limit, approval_above_cents
         FROM pat_budgets WHERE pat_id = ?1",
    )?
    .query_row([pat], |r| {
        Ok(Budget {
            max_checkout_cents: r.get(0)?,
            weekly_cap_cents: r.get(1)?,
            monthly_cap_cents: r.get(2)?,
            // An unknown word refuses: the safe reading.
            over_limit: OverLimit::parse(&r.get::<String>(3)?).unwrap_or_default(),
            approval_above_cents: r.get(4)?,
        })
    })
    .optional()?;
    Ok(found.unwrap_or_default())
}

pub fn set(conn: &Connection, pat: &PatId, b: &Budget) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO pat_budgets (pat_id, max_checkout_cents, weekly_cap_cents, monthly_cap_cents, over_limit, approval_above_cents)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pat_id) DO UPDATE SET max_checkout_cents = excluded.max_checkout_cents,
             weekly_cap_cents = excluded.weekly_cap_cents, monthly_cap_cents = excluded.monthly_cap_cents,
             over_limit = excluded.over_limit, approval_above_cents = excluded.approval_above_cents",
        params![pat, b.max_checkout_cents, b.weekly_cap_cents, b.monthly_cap_cents, b.over_limit.as_str(), b.approval_above_cents],
    )?;
    Ok(())
}

/// Everything a checkout is judged by, read in one statement: the PAT's
/// daily cap, its budget, and what it spent on the day, in the week and in
/// the month given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub daily_cap_cents: Option<i64>,
    pub budget: Budget,
    /// Day, week, month.
    pub spent: [i64; 3],
}

/// `None` when there is no such PAT.
pub fn standing(conn: &Connection, pat: &PatId, day: i64, week: i64, month: i64) -> Result<Option<Standing>, AppError> {
    Ok(super::cached(
        conn,
        "SELECT p.daily_cap_cents, b.max_checkout_cents, b.weekly_cap_cents, b.monthly_cap_cents, b.over_limit,
                b.approval_above_cents,
                COALESCE((SELECT spent_cents FROM pat_daily_spend WHERE pat_id = ?1 AND utc_day = ?2), 0),
                COALESCE((SELECT spent_cents FROM pat_window_spend WHERE pat_id = ?1 AND span = 'week' AND period = ?3), 0),
                COALESCE((SELECT spent_cents FROM pat_window_spend WHERE pat_id = ?1 AND span = 'month' AND period = ?4), 0)
         FROM pats p LEFT JOIN pat_budgets b ON b.pat_id = p.id WHERE p.id = +?1",
    )?
    .query_row(params![pat, day, week, month], |r| {
        Ok(Standing {
            daily_cap_cents: r.get(0)?,
            budget: Budget {
                max_checkout_cents: r.get(1)?,
                weekly_cap_cents: r.get(2)?,
                monthly_cap_cents: r.get(3)?,
                // No budget row, or an unknown word: refuse.
                over_limit: r.get::<Option<String>>(4)?.as_deref().and_then(OverLimit::parse).unwrap_or_default(),
                approval_above_cents: r.get(5)?,
            },
            spent: [r.get(6)?, r.get(7)?, r.get(8)?],
        })
    })
    .optional()?)
}

/// What the PAT has spent in a week's or a month's period, in cents (the
/// day's spend is `checkouts::spent_on_day`; asked for here it is 0).
pub fn spent_in(conn: &Connection, pat: &PatId, window: crate::model::Window, period: i64) -> Result<i64, AppError> {
    Ok(super::cached(conn, "SELECT spent_cents FROM pat_window_spend WHERE pat_id = ?1 AND span = ?2 AND period = ?3")?
        .query_row(params![pat, window, period], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Adds `cents` to the PAT's totals for the week and the month given, in
/// one statement.
pub fn add_spend(conn: &Connection, pat: &PatId, week: i64, month: i64, cents: i64) -> Result<(), AppError> {
    super::cached(
        conn,
        "INSERT INTO pat_window_spend (pat_id, span, period, spent_cents) VALUES (?1, 'week', ?2, ?4), (?1, 'month', ?3, ?4)
         ON CONFLICT (pat_id, span, period) DO UPDATE SET spent_cents = pat_window_spend.spent_cents + excluded.spent_cents",
    )?
    .execute(params![pat, week, month, cents])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    #[test]
    fn a_budget_round_trips_and_spend_adds_up_per_period() {
        crate::db::testing::each_backend(|db| {
            let now = Timestamp(2_000_000_000);
            db.write_blocking(|tx| {
                let (ws, agent) = crate::domain::setup::workspace_with_agent(tx, now)?;
                let pat = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                assert_eq!(find(tx, &pat.id)?, Budget::default(), "no row: no limits, refuse");
                let budget = Budget {
                    max_checkout_cents: Some(500),
                    weekly_cap_cents: None,
                    monthly_cap_cents: Some(10_000),
                    over_limit: OverLimit::Ask,
                    approval_above_cents: Some(200),
                };
                set(tx, &pat.id, &budget)?;
                assert_eq!(find(tx, &pat.id)?, budget);
                set(tx, &pat.id, &Budget { over_limit: OverLimit::Refuse, ..budget.clone() })?;
                assert_eq!(find(tx, &pat.id)?.over_limit, OverLimit::Refuse, "set replaces");

                add_spend(tx, &pat.id, 7, 1, 300)?;
                add_spend(tx, &pat.id, 7, 1, 450)?;
                add_spend(tx, &pat.id, 8, 2, 100)?;
                assert_eq!(spent_in(tx, &pat.id, crate::model::Window::Week, 7)?, 750);
                assert_eq!(spent_in(tx, &pat.id, crate::model::Window::Week, 8)?, 100);
                assert_eq!(
                    spent_in(tx, &pat.id, crate::model::Window::Month, 1)?,
                    750,
                    "the month counts the same spend"
                );
                assert_eq!(spent_in(tx, &pat.id, crate::model::Window::Month, 7)?, 0, "periods are per window");

                crate::db::checkouts::add_spend(tx, &pat.id, 70, 25)?;
                let s = standing(tx, &pat.id, 70, 7, 2)?.expect("the PAT");
                assert_eq!((s.daily_cap_cents, s.spent), (Some(1_000), [25, 750, 100]), "one read, every window");
                assert_eq!(s.budget, find(tx, &pat.id)?, "the same budget as find");
                let other = crate::domain::setup::agent_pat(tx, &ws, &agent, now)?;
                let fresh = standing(tx, &other.id, 70, 7, 2)?.expect("the other PAT");
                assert_eq!((fresh.spent, fresh.budget), ([0, 0, 0], Budget::default()), "nothing spent, no budget row");
                assert!(standing(tx, &PatId("nope".into()), 70, 7, 2)?.is_none());
                Ok(())
            })
            .unwrap();
        });
    }
}

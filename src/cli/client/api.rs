//! Talking to a Latchkey server: one blocking HTTP client, and the server's
//! error body rendered as one line for a person.

use std::time::Duration;

use serde_json::Value;

use crate::cli::CliError;
use crate::wire::Recovery;

pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

/// A response: status and JSON body (or the raw text when it is not JSON).
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).redirects(0).build(),
        }
    }

    /// Sends a request; only a failure to reach the server is an error here.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, CliError> {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                return Err(CliError::Unreachable(format!("cannot reach {}: {}", self.base, transport_message(&e))));
            }
        };
        let status = resp.status();
        let text = resp.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, body, text })
    }

    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Result<Reply, CliError> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let data = body.map(|b| b.to_string());
        if data.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.send(method, path, &headers, data.as_deref().map(str::as_bytes))
    }
}

fn transport_message(e: &ureq::Error) -> String {
    // ureq's transport errors never carry request headers or bodies.
    e.to_string().lines().next().unwrap_or("network error").to_string()
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The failure as one line: the server's message, its code, and what to
    /// do next when the server said.
    pub fn failure(&self) -> CliError {
        CliError::Refused(describe(self.status, &self.body))
    }

    /// `Ok(body)` for a 2xx answer, the failure otherwise.
    pub fn into_ok(self) -> Result<Value, CliError> {
        if self.ok() { Ok(self.body) } else { Err(self.failure()) }
    }

    /// A 2xx answer as its `wire` type; the failure otherwise.
    pub fn into_wire<T: serde::de::DeserializeOwned>(self) -> Result<T, CliError> {
        serde_json::from_value(self.into_ok()?).map_err(|e| {
            CliError::Failed(format!(
                "the server's answer is not what this client expects ({e}); is the server running the same version?"
            ))
        })
    }
}

/// docs/API.md §4's error body, for a person.
pub fn describe(status: u16, body: &Value) -> String {
    let code = body["error_code"].as_str().unwrap_or("HTTP_ERROR");
    let message =
        body["user_message"].as_str().map(str::to_string).unwrap_or_else(|| format!("the server answered {status}"));
    // A recovery this client cannot read is no recovery; the message stays.
    let recovery = serde_json::from_value::<Option<Recovery>>(body["recovery"].clone()).ok().flatten();
    let hint = match recovery {
        None | Some(Recovery::Unknown) => String::new(),
        Some(Recovery::Reauthenticate { .. }) => {
            " Next: log in again with `latchkey login --url URL`, or mint a new token.".to_string()
        }
        Some(Recovery::EnableAgentSecurityMode { settings_url }) => {
            format!(" Next: a host turns on Agent Security Mode at {settings_url}.")
        }
        Some(Recovery::RaisePatCap {
            settings_url,
            current_cap_usd,
            attempted_amount_usd,
            resets_at,
            window,
            spent_in_window_usd,
            ..
        }) => {
            let period = match window {
                crate::model::Window::Day => "today",
                crate::model::Window::Week => "this week",
                crate::model::Window::Month => "this month",
            };
            format!(
                " Next: spent {spent_in_window_usd} of {current_cap_usd} {period} (this one: {attempted_amount_usd}); \
                 a host can raise the cap at {settings_url}, or wait until {resets_at}."
            )
        }
        Some(Recovery::RetryLater { retry_after_seconds }) => format!(" Next: retry in {retry_after_seconds} seconds."),
        Some(Recovery::UseAgentPat {}) => " Next: use an agent PAT (`latchkey token mint NAME`).".to_string(),
        Some(Recovery::StartSession { .. }) => " Next: start a session with `latchkey agent session`.".to_string(),
        Some(Recovery::SignRequest { canonical_format, server_body_sha256, server_time }) => format!(
            " Next: sign {} (server saw body sha256 {server_body_sha256}, server time {server_time}).",
            canonical_format.replace('\n', "\\n"),
        ),
        Some(Recovery::AwaitApproval { poll_url, expires_at, .. }) => {
            format!(" Next: a person decides; poll {poll_url} until {expires_at}.")
        }
        Some(Recovery::EnrollAgent { .. }) => {
            " Next: enroll the agent with `latchkey agent enroll --bootstrap-secret S`.".to_string()
        }
    };
    format!("{message} ({code}).{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_as_one_line_with_its_next_step() {
        let cap = serde_json::json!({
            "error_code": "SPEND_CAP_EXCEEDED",
            "user_message": "Over the cap.",
            "recovery": {"kind": "raise_pat_cap", "settings_url": "https://h/dashboard/tokens/p", "current_cap_usd": "50.00",
                         "attempted_amount_usd": "5.00", "spent_today_usd": "1.00", "resets_at": "2026-12-07T00:00:00Z",
                         "window": "week", "spent_in_window_usd": "48.00"}
        });
        let line = describe(429, &cap);
        assert!(line.starts_with("Over the cap. (SPEND_CAP_EXCEEDED). Next: spent 48.00 of 50.00 this week"), "{line}");
        assert!(line.contains("https://h/dashboard/tokens/p") && line.contains("2026-12-07T00:00:00Z"), "{line}");

        // A kind this client does not know, or a recovery it cannot read, is
        // no hint; the message stays.
        let unknown =
            serde_json::json!({"error_code": "X", "user_message": "Hm.", "recovery": {"kind": "call_a_friend"}});
        assert_eq!(describe(400, &unknown), "Hm. (X).");
        let odd = serde_json::json!({"error_code": "X", "user_message": "Hm.", "recovery": {"kind": "retry_later"}});
        assert_eq!(describe(429, &odd), "Hm. (X).");
        // Not our error shape at all (a proxy's page).
        assert_eq!(describe(502, &Value::Null), "the server answered 502 (HTTP_ERROR).");
    }
}

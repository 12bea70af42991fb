//! Telling the host (docs/API.md §5.9): `approval.requested`,
//! `approval.decided` and `cap.exceeded` are POSTed to
//! `LATCHKEY_WEBHOOK_URL`, signed per Standard Webhooks (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`), by a background thread with retries and backoff.
//! A request only enqueues (never waits); a full queue drops and counts.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use serde_json::json;

/// Attempts per delivery, and the waits between them.
const BACKOFF: [Duration; 4] =
    [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(120)];
const QUEUE: usize = 1024;
const KEPT: usize = 50;

/// One delivery, for the settings page.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub kind: String,
    pub at: i64,
    /// `pending`, `delivered (HTTP 2xx)`, `failed: …`.
    pub status: String,
    pub attempts: u32,
}

/// The sender side; a no-op without `LATCHKEY_WEBHOOK_URL`.
#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    tx: Option<SyncSender<(String, String, String)>>,
    recent: Arc<Mutex<VecDeque<Delivery>>>,
}

/// The key of `whsec_` + base64.
pub fn parse_secret(raw: &str) -> Option<Vec<u8>> {
    STANDARD.decode(raw.trim().strip_prefix("whsec_")?).ok().filter(|k| !k.is_empty())
}

/// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl Webhooks {
    /// Starts the delivery thread when a URL is configured.
    pub fn start(url: Option<String>, key: Option<Vec<u8>>) -> Webhooks {
        let (Some(url), Some(key)) = (url, key) else { return Webhooks::default() };
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let recent: Arc<Mutex<VecDeque<Delivery>>> = Arc::default();
        let shown = recent.clone();
        std::thread::Builder::new()
            .name("latchkey-webhooks".into())
            .spawn(move || deliver_all(&url, &key, &rx, &shown))
            .map(|_| Webhooks { tx: Some(tx), recent })
            .unwrap_or_default()
    }

    /// Queues an event; never blocks.
    pub fn send(&self, kind: &str, data: impl serde::Serialize, now: i64) {
        let Some(tx) = &self.tx else { return };
        let id = format!("msg_{}", crate::db::new_id().replace('-', ""));
        let body =
            json!({"type": kind, "timestamp": crate::clock::Timestamp(now).to_rfc3339(), "data": data}).to_string();
        self.note(Delivery { id: id.clone(), kind: kind.to_string(), at: now, status: "pending".into(), attempts: 0 });
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send((id.clone(), kind.into(), body))
        {
            self.update(&id, "failed: the delivery queue is full".into(), 0);
        }
    }

    /// The latest deliveries, newest first.
    pub fn recent(&self) -> Vec<Delivery> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).iter().rev().cloned().collect()
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    fn note(&self, d: Delivery) {
        note(&self.recent, d);
    }

    fn update(&self, id: &str, status: String, attempts: u32) {
        update(&self.recent, id, status, attempts);
    }
}

fn note(recent: &Mutex<VecDeque<Delivery>>, d: Delivery) {
    let mut r = recent.lock().unwrap_or_else(|p| p.into_inner());
    if r.len() >= KEPT {
        r.pop_front();
    }
    r.push_back(d);
}

fn update(recent: &Mutex<VecDeque<Delivery>>, id: &str, status: String, attempts: u32) {
    let mut r = recent.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(d) = r.iter_mut().find(|d| d.id == id) {
        d.status = status;
        d.attempts = attempts;
    }
}

fn deliver_all(url: &str, key: &[u8], rx: &Receiver<(String, String, String)>, recent: &Mutex<VecDeque<Delivery>>) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).redirects(0).build();
    while let Ok((id, _kind, body)) = rx.recv() {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let ts =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            let result = agent
                .post(url)
                .set("content-type", "application/json")
                .set("webhook-id", &id)
                .set("webhook-timestamp", &ts.to_string())
                .set("webhook-signature", &sign(key, &id, ts, &body))
                .send_string(&body);
            let outcome = match result {
                Ok(r) => Ok(r.status()),
                Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
                Err(e) => Err(e.kind().to_string()),
            };
            match outcome {
                Ok(code) => {
                    update(recent, &id, format!("delivered (HTTP {code})"), attempts);
                    break;
                }
                Err(why) if (attempts as usize) <= BACKOFF.len() => {
                    update(recent, &id, format!("retrying: {why}"), attempts);
                    std::thread::sleep(BACKOFF[attempts as usize - 1]);
                }
                Err(why) => {
                    update(recent, &id, format!("failed: {why}"), attempts);
                    tracing::warn!(webhook = %id, reason = %why, "webhook not delivered");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The Standard Webhooks reference example.
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(parse_secret("nope").is_none());
    }
}

//! The rules, synchronous and free of HTTP: each function takes a
//! connection or transaction, its parsed input and the time.

pub mod accounts;
pub mod agents;
pub mod audit;
pub mod authn;
pub mod certificates;
pub mod checkouts;
pub mod enrollment;
pub mod housekeeping;
pub mod members;
pub mod oauth;
pub mod pats;
pub mod principal;
pub mod resources;
pub mod security_mode;
pub mod sessions;
pub mod setup;
pub mod workspaces;

pub use crate::model::{Role, ids, money};

use std::fmt;

/// An email address as we store it: trimmed, lower-case, one `@` with
/// something on both sides, no whitespace, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Option<Email> {
        let e = raw.trim().to_lowercase();
        let (local, domain) = e.split_once('@')?;
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && e.len() <= 254
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        ok.then_some(Email(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

/// A new password: at least 12 characters, at most 1024 bytes (argon2 cost
/// must stay bounded).
pub struct NewPassword(String);

pub const MIN_PASSWORD_CHARS: usize = 12;

impl NewPassword {
    pub fn parse(raw: &str) -> Result<NewPassword, String> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!("The password must be at least {MIN_PASSWORD_CHARS} characters long."));
        }
        if raw.len() > 1024 {
            return Err("The password must be at most 1024 bytes long.".into());
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// A workspace name: 1 to 100 characters after trimming, no control characters.
pub fn parse_workspace_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("A workspace name is 1 to 100 characters, without control characters.".into());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        assert_eq!(Email::parse("ada@example.com").unwrap().domain(), "example.com");
        for bad in ["", "ada", "@example.com", "ada@", "ada@example", "a b@example.com", "a@b@example.com"] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_twelve_characters_and_never_print() {
        assert!(NewPassword::parse("short").is_err());
        let p = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "NewPassword(<redacted>)");
    }
}

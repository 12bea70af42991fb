//! The vocabulary every layer shares: typed ids, statuses and scopes as
//! enums, money, the stored shape of a resource. It imports no other layer,
//! so the arrows point one way: http -> domain -> db -> model.

pub mod ids;
pub mod money;
pub mod resource;

/// An enum stored and sent as one lowercase word: `as_str` and `parse`
/// spell it, and the wire (serde, the OpenAPI schema) uses the same word
/// (`snake_case` of the variant; a test holds the two together).
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum! {
    /// A member's role in a workspace (docs/API.md §3).
    Role { Owner = "owner", Member = "member" }
}

word_enum! {
    /// `created` until the agent registers its key with a bootstrap secret.
    AgentStatus { Created = "created", Active = "active", Disabled = "disabled" }
}

word_enum! {
    /// Whom a PAT acts for (docs/API.md §3).
    Scope { Host = "host", Agent = "agent", Service = "service" }
}

word_enum! {
    /// Where a PAT may be used: directly on the API, only to exchange, or both.
    Audience { Api = "api", Exchange = "exchange", Both = "both" }
}

impl Audience {
    pub fn allows_direct_use(self) -> bool {
        matches!(self, Audience::Api | Audience::Both)
    }

    pub fn allows_exchange(self) -> bool {
        matches!(self, Audience::Exchange | Audience::Both)
    }
}

word_enum! {
    /// Where a workspace certificate is in its life. `Deleted` rows are kept
    /// (the audit trail names them) but never shown or trusted.
    CertificateStatus { Active = "active", Revoked = "revoked", Deleted = "deleted" }
}

word_enum! {
    /// Whether a PAT is usable now; derived from its revocation and expiry.
    PatStatus { Active = "active", Revoked = "revoked", Expired = "expired" }
}

word_enum! {
    /// A checkout's status. Every stored checkout is authorized: a refused
    /// or waiting one is not a checkout (docs/API.md §5.3, §5.9).
    CheckoutStatus { Authorized = "authorized" }
}

word_enum! {
    /// A checkout that waits for a person. Stored as pending, approved or
    /// denied; `Expired` is a pending one past its deadline.
    ApprovalStatus { Pending = "pending", Approved = "approved", Denied = "denied", Expired = "expired" }
}

word_enum! {
    /// How a caller proved who it is: a PAT; a JWT exchanged from one; a
    /// key-bound runtime session whose request signature verified; an
    /// enrolled agent's opaque `lk_at_` token; an RS256 JWT signed by a
    /// workspace certificate; an RFC 9068 access JWT from the OAuth server.
    CredentialKind {
        Pat = "pat",
        Jwt = "jwt",
        Session = "session",
        AccessToken = "access_token",
        CertificateJwt = "certificate_jwt",
        OauthAccessToken = "oauth_access_token",
    }
}

word_enum! {
    /// An agent as a host made it, or an OAuth client a host approved
    /// (listed with its grants).
    AgentKind { Agent = "agent", OauthClient = "oauth_client" }
}

word_enum! {
    /// How an audited event ended.
    Outcome { Success = "success", Failure = "failure" }
}

word_enum! {
    /// A spending window of an agent PAT: the UTC day, the UTC week from
    /// Monday, the calendar month (docs/API.md §5.9).
    Window { Day = "day", Week = "week", Month = "month" }
}

word_enum! {
    /// What an agent PAT's over-limit checkout meets: a refusal, or a person.
    OverLimit { Refuse = "refuse", Ask = "ask" }
}

// Not derived: the enum comes from `word_enum!`, which takes no `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for OverLimit {
    fn default() -> OverLimit {
        OverLimit::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_on_the_wire<T: serde::Serialize + Copy + std::fmt::Display>(all: &[T]) {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(v.to_string()));
        }
    }

    #[test]
    fn every_word_is_spelled_the_same_in_storage_and_on_the_wire() {
        same_on_the_wire(Role::ALL);
        same_on_the_wire(AgentStatus::ALL);
        same_on_the_wire(Scope::ALL);
        same_on_the_wire(Audience::ALL);
        same_on_the_wire(CertificateStatus::ALL);
        same_on_the_wire(PatStatus::ALL);
        same_on_the_wire(CheckoutStatus::ALL);
        same_on_the_wire(ApprovalStatus::ALL);
        same_on_the_wire(OverLimit::ALL);
        same_on_the_wire(CredentialKind::ALL);
        same_on_the_wire(AgentKind::ALL);
        same_on_the_wire(Outcome::ALL);
        same_on_the_wire(Window::ALL);
        for v in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(v.as_str()), Some(*v));
        }
    }
}

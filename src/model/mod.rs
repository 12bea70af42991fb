//! The vocabulary every layer shares: typed ids, statuses and scopes as
//! enums, money, the stored shape of a resource. It imports no other layer,
//! so the arrows point one way: http -> domain -> db -> model.

pub mod ids;
pub mod money;
pub mod resource;

use std::fmt;

/// A member's role in a workspace (docs/API.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStatus {
    Created,
    Active,
    Disabled,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Created => "created",
            AgentStatus::Active => "active",
            AgentStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<AgentStatus> {
        match s {
            "created" => Some(AgentStatus::Created),
            "active" => Some(AgentStatus::Active),
            "disabled" => Some(AgentStatus::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Host,
    Agent,
    Service,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Host => "host",
            Scope::Agent => "agent",
            Scope::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "host" => Some(Scope::Host),
            "agent" => Some(Scope::Agent),
            "service" => Some(Scope::Service),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Api,
    Exchange,
    Both,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Api => "api",
            Audience::Exchange => "exchange",
            Audience::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "api" => Some(Audience::Api),
            "exchange" => Some(Audience::Exchange),
            "both" => Some(Audience::Both),
            _ => None,
        }
    }

    pub fn allows_direct_use(self) -> bool {
        matches!(self, Audience::Api | Audience::Both)
    }

    pub fn allows_exchange(self) -> bool {
        matches!(self, Audience::Exchange | Audience::Both)
    }
}

/// Where a workspace certificate is in its life. `Deleted` rows are kept
/// (the audit trail names them) but never shown or trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    Active,
    Revoked,
    Deleted,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "active",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<CertificateStatus> {
        match s {
            "active" => Some(CertificateStatus::Active),
            "revoked" => Some(CertificateStatus::Revoked),
            "deleted" => Some(CertificateStatus::Deleted),
            _ => None,
        }
    }
}

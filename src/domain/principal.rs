//! Who is calling the API, once the bearer layer has resolved a credential.

use crate::clock::Timestamp;
use crate::db::workspaces::Workspace;
use crate::domain::Role;
use crate::domain::ids::{AgentId, PatId, UserId};
use crate::domain::pats::{Audience, Scope};
use crate::error::AppError;

pub use crate::model::CredentialKind;

#[derive(Debug, Clone)]
pub struct Credential {
    pub kind: CredentialKind,
    /// The PAT's id, or the JWT's `jti`.
    pub id: String,
    /// The PAT behind it (none for an access token).
    pub pat_id: Option<PatId>,
    pub scope: Scope,
    pub audience: Audience,
    pub expires_at: Timestamp,
    /// When the PAT behind this credential was last used (as recorded).
    pub pat_last_used_at: Option<Timestamp>,
    /// When the credential was issued, where known (introspection's `iat`).
    pub issued_at: Option<Timestamp>,
    /// The bound key's thumbprint, for key-bound sessions (`cnf.jkt`).
    pub key_thumbprint: Option<String>,
    /// For an OAuth access token: its grant, client, resource and scopes.
    pub oauth: Option<Box<OAuthFacts>>,
}

/// What an OAuth access token carries beyond the other credentials.
#[derive(Debug, Clone)]
pub struct OAuthFacts {
    pub grant_id: crate::model::ids::GrantId,
    pub client_id: String,
    /// The resource identifier (`aud`) the token is for, and only for.
    pub resource: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PrincipalUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub instance_admin: bool,
}

#[derive(Debug, Clone)]
pub struct BoundAgent {
    pub id: AgentId,
    pub name: String,
}

/// A resolved, currently valid API caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace: Workspace,
    pub user: Option<PrincipalUser>,
    pub credential: Credential,
    pub agent: Option<BoundAgent>,
}

impl Principal {
    /// The acting user; every host-scope action needs one.
    pub fn user(&self) -> Result<&PrincipalUser, AppError> {
        self.user.as_ref().ok_or(if self.credential.kind == CredentialKind::CertificateJwt {
            AppError::DelegationRequired
        } else {
            AppError::Scope("This action needs a credential that acts as a user.".into())
        })
    }

    /// The person acting, for the ownership rules; host actions need one.
    /// The ownership rules for this caller. A management certificate JWT
    /// acts at workspace level, like an owner without a user.
    pub fn acting(&self) -> Result<Acting, AppError> {
        if self.user.is_none() && self.credential.kind == CredentialKind::CertificateJwt {
            return Ok(Acting { user_id: None, role: Role::Owner });
        }
        let user = self.user()?;
        Ok(Acting { user_id: Some(user.id.clone()), role: user.role })
    }

    /// Whether this caller may revoke `target` (RFC 7009): any credential
    /// itself, and an owner's or management host credential any credential
    /// of its own workspace.
    pub fn may_revoke(&self, target: &Principal) -> bool {
        let itself = self.credential.kind == target.credential.kind && self.credential.id == target.credential.id;
        let owner = self.workspace.id == target.workspace.id
            && self.credential.scope == Scope::Host
            && self.acting().is_ok_and(|a| a.role == Role::Owner);
        itself || owner
    }
}

/// A person acting in a workspace with their role: all the ownership rules
/// (docs/API.md §3) need. Owners manage everything in the workspace; members
/// only what they created.
#[derive(Debug, Clone)]
pub struct Acting {
    /// `None` for a management credential (workspace-level, no user).
    pub user_id: Option<UserId>,
    pub role: Role,
}

impl Acting {
    pub fn may_manage(&self, owner: Option<&UserId>) -> bool {
        self.role == Role::Owner || (owner.is_some() && owner == self.user_id.as_ref())
    }

    /// The filter for lists: nothing for owners, the member's own id otherwise.
    pub fn only_own(&self) -> Option<&UserId> {
        if self.role == Role::Owner { None } else { self.user_id.as_ref() }
    }
}

//! The API's route table: each row registers a handler and describes the
//! operation for `/openapi.json` (its caller, body and answer are `wire`
//! types). A route is added here and nowhere else; the dashboard's routes
//! are in `http::configure`.

use actix_web::http::Method;
use actix_web::web;

use super::openapi::{Credential, Media, Operation, Verb, Who, items, op, schema};
use super::*;
use crate::http::{metrics, ops};
use crate::wire::agents::{Agent, Bootstrap, BootstrapSecret, CreateAgent, CreatedAgent, Enrolled};
use crate::wire::checkouts::{Approval, Checkout, CheckoutRequest, PendingApproval, Preview, Standing};
use crate::wire::pats::{MintPat, MintedPat, Pat, UpdatePat};
use crate::wire::tokens::{
    AgentTokenRequest, BearerToken, ExchangeRequest, Introspection, OAuthRevokeRequest, OAuthTokenRequest, Session,
    StartSession, TokenParam, WhoAmI,
};
use crate::wire::workspace::{
    AuditEvent, Certificate, ChangeRole, ClientRegistration, CreateCertificate, CreateResource, Grant, Invitation,
    Invite, Member, RegisteredClient, Resource, ResourceMetadata, UpdateResource,
};
use crate::wire::{Health, Revoked};

const fn header(text: &'static str) -> Who {
    Who { text, credential: Credential::Bearer }
}

const fn elsewhere(text: &'static str) -> Who {
    Who { text, credential: Credential::Elsewhere }
}

const NONE: Who = elsewhere("none");
const HOST: Who = header("host");
const OWNER: Who = header("owner");
const SERVICE: Who = header("service");
const HOST_OR_SERVICE: Who = header("host, service");
const HOST_OR_MANAGEMENT: Who = header("host, management");
const OWNER_OR_MANAGEMENT: Who = header("owner, management");
const SIGNED: Who = header("signed session");

/// `web::resource(path)` with a 405 in the §4 shape for other methods.
fn resource(path: &str) -> actix_web::Resource {
    crate::http::resource(path)
}

fn route(verb: Verb) -> actix_web::Route {
    match verb {
        Verb::Get => web::route().method(Method::GET),
        Verb::Post => web::route().method(Method::POST),
        Verb::Patch => web::route().method(Method::PATCH),
        Verb::Delete => web::route().method(Method::DELETE),
        Verb::Any => web::route(),
    }
}

/// `path { VERB handler => description; … }`, in matching order.
macro_rules! table {
    ($( $path:literal { $( $verb:ident $handler:path => $op:expr; )+ } )+) => {
        /// Registers every API route, in table order (routes are matched
        /// in order: the hot paths come first).
        pub fn register(cfg: &mut web::ServiceConfig) {
            $( cfg.service(resource($path) $( .route(route(Verb::$verb).to($handler)) )+ ); )+
        }

        /// Every API operation, in table order.
        pub fn operations() -> Vec<Operation> {
            vec![$( $( Operation { verb: Verb::$verb, path: $path, ..$op }, )+ )+]
        }
    };
}

table! {
    // The hot paths.
    "/v1/auth/whoami" {
        Get identity::whoami => op(200, "Who the credential is.", header("any credential")).answers(schema::<WhoAmI>);
    }
    "/v1/agents/token" {
        Post enrollment::token => op(200, "RFC 7523 private_key_jwt: an ES256 assertion for an access token.",
            elsewhere("client assertion"))
            .takes(schema::<AgentTokenRequest>, Media::JsonOrForm).answers(schema::<BearerToken>);
    }
    "/api/agent/checkout/create" {
        Post checkouts::create_checkout => op(201, "A checkout under the PAT's daily cap.", SIGNED)
            .takes(schema::<CheckoutRequest>, Media::Json).answers(schema::<Checkout>)
            .or_answers(202, schema::<PendingApproval>);
    }
    "/v1/introspect" {
        Post introspect::introspect_token => op(200, "RFC 7662 token introspection.", SERVICE)
            .takes(schema::<TokenParam>, Media::JsonOrForm).answers(schema::<Introspection>);
    }
    "/v1/forward-auth" {
        Any forward_auth::forward_auth => op(200,
            "For nginx auth_request, Caddy forward_auth, Traefik ForwardAuth (any method): may this request pass?",
            elsewhere("the original request's credential"));
    }
    // Operations and discovery.
    "/healthz" {
        Get ops::healthz => op(200, "The process is up.", NONE).answers(schema::<Health>);
    }
    "/readyz" {
        Get ops::readyz => op(200, "The database answers.", NONE).answers(schema::<Health>);
    }
    "/.well-known/jwks.json" {
        Get well_known::jwks => op(200, "Public keys of Latchkey-issued JWTs.", NONE);
    }
    "/.well-known/oauth-authorization-server" {
        Get well_known::oauth_metadata => op(200, "RFC 8414 metadata.", NONE);
    }
    "/.well-known/oauth-authorization-server/{path:.*}" {
        Get well_known::oauth_metadata_for_path =>
            op(200, "RFC 8414 metadata, path-inserted, for an issuer with a path.", NONE);
    }
    "/openapi.json" {
        Get openapi::openapi => op(200, "This document.", NONE);
    }
    "/metrics" {
        Get metrics::metrics => op(200, "Prometheus metrics.", HOST_OR_SERVICE);
    }
    // Identity and agents.
    "/v1/auth/exchange" {
        Post identity::exchange => op(200, "Trade a PAT for a 15-minute EdDSA JWT.",
            elsewhere("a PAT (body token or bearer)"))
            .takes_optional(schema::<ExchangeRequest>, Media::Json).answers(schema::<BearerToken>);
    }
    "/v1/agents" {
        Get agents::list_agents => op(200, "List agents.", HOST).answers(items::<Agent>);
        Post agents::create_agent => op(201, "Create an agent; returns a one-time bootstrap secret.", HOST)
            .takes(schema::<CreateAgent>, Media::Json).answers(schema::<CreatedAgent>);
    }
    "/v1/agents/bootstrap" {
        Post enrollment::bootstrap => op(200, "Register an agent's P-256 key with a bootstrap secret.",
            elsewhere("bootstrap secret"))
            .takes(schema::<Bootstrap>, Media::Json).answers(schema::<Enrolled>);
    }
    "/v1/agents/{id}" {
        Get agents::get_agent => op(200, "Read an agent.", HOST).answers(schema::<Agent>);
    }
    "/v1/agents/{id}/bootstrap-secret" {
        Post enrollment::new_bootstrap_secret => op(201, "A new one-time bootstrap secret.", HOST)
            .answers(schema::<BootstrapSecret>);
    }
    "/v1/agents/{id}/disable" {
        Post agents::disable_agent => op(200, "Disable an agent; its credentials stop at once.", HOST)
            .answers(schema::<Agent>);
    }
    "/v1/agents/{id}/enable" {
        Post agents::enable_agent => op(200, "Enable an agent.", HOST).answers(schema::<Agent>);
    }
    // PATs.
    "/v1/pats" {
        Get pats::list_pats => op(200, "List PATs (never the secret).", HOST).answers(items::<Pat>);
        Post pats::create_pat => op(201, "Mint a PAT; the token is in this answer only.", header("host acting as a user"))
            .takes(schema::<MintPat>, Media::Json).answers(schema::<MintedPat>);
    }
    "/v1/pats/{id}" {
        Get pats::get_pat => op(200, "Read a PAT's metadata.", HOST).answers(schema::<Pat>);
        Patch pats::update_pat => op(200, "Rename a PAT or change its limits.", HOST)
            .takes(schema::<UpdatePat>, Media::Json).answers(schema::<Pat>);
    }
    "/v1/pats/{id}/revoke" {
        Post pats::revoke_pat => op(200, "Revoke a PAT and everything derived from it.", HOST).answers(schema::<Pat>);
    }
    // Certificates.
    "/v1/certificates" {
        Get certificates::list_certificates => op(200, "List certificates.", HOST_OR_MANAGEMENT)
            .answers(items::<Certificate>);
        Post certificates::create_certificate =>
            op(201, "Create an RS256 certificate; the private key is returned once.", OWNER_OR_MANAGEMENT)
            .takes_optional(schema::<CreateCertificate>, Media::Json).answers(schema::<Certificate>);
    }
    "/v1/certificates/active" {
        Get certificates::active_certificate => op(200, "The newest active certificate.", HOST_OR_MANAGEMENT)
            .answers(schema::<Certificate>);
    }
    "/v1/certificates/public/{kid}" {
        Get certificates::public_certificate => op(200, "A certificate's public key (PEM and JWK).", NONE)
            .answers(schema::<Certificate>);
    }
    "/v1/certificates/{id}" {
        Delete certificates::delete_certificate => op(204, "Delete a certificate.", OWNER_OR_MANAGEMENT);
    }
    "/v1/certificates/{id}/revoke" {
        Post certificates::revoke_certificate => op(200, "Revoke a certificate.", OWNER_OR_MANAGEMENT)
            .answers(schema::<Certificate>);
    }
    // The agent runtime.
    "/api/agent/auth/pat" {
        Post sessions::start_session => op(200, "Start a key-bound runtime session with an agent PAT.",
            elsewhere("agent PAT"))
            .takes(schema::<StartSession>, Media::Json).answers(schema::<Session>);
    }
    "/api/agent/checkout/preview" {
        Post checkouts::preview_checkout =>
            op(200, "What a checkout would meet (limits, windows), changing nothing.", SIGNED)
            .takes(schema::<CheckoutRequest>, Media::Json).answers(schema::<Preview>);
    }
    "/api/agent/budget" {
        Get checkouts::budget => op(200, "The PAT's limits, spend and what is left per window.",
            header("agent credential")).answers(schema::<Standing>);
    }
    "/api/agent/approvals/{id}" {
        Get checkouts::poll_approval => op(201, "Poll a checkout waiting for a person (?wait= up to 30 s).", SIGNED)
            .answers(schema::<Checkout>).or_answers(202, schema::<PendingApproval>);
    }
    // The workspace.
    "/v1/members" {
        Get members::list_members => op(200, "The workspace's members.", OWNER).answers(items::<Member>);
        Post members::invite => op(201, "Invite by email: a one-time link (7 days), shown once.", OWNER)
            .takes(schema::<Invite>, Media::Json).answers(schema::<Invitation>);
    }
    "/v1/members/{id}" {
        Patch members::change_role => op(200, "Change a member's role (the last owner stays).", OWNER)
            .takes(schema::<ChangeRole>, Media::Json).answers(schema::<Member>);
        Delete members::remove => op(204, "Remove a member; their PATs stop at once.", OWNER);
    }
    "/v1/approvals" {
        Get approvals::list_approvals => op(200, "Checkouts that waited for a person (?status=).", HOST)
            .answers(items::<Approval>);
    }
    "/v1/approvals/{id}/approve" {
        Post approvals::approve => op(200, "Approve: the checkout is created now, counted in every window.", HOST)
            .answers(schema::<Approval>);
    }
    "/v1/approvals/{id}/deny" {
        Post approvals::deny => op(200, "Deny a waiting checkout.", HOST).answers(schema::<Approval>);
    }
    "/v1/checkouts" {
        Get checkouts::list_checkouts => op(200, "List checkouts.", HOST_OR_SERVICE)
            .answers(items::<Checkout>);
    }
    "/v1/audit" {
        Get audit::list_audit => op(200, "The audit trail, filterable by kind and agent.", HOST_OR_MANAGEMENT)
            .answers(items::<AuditEvent>);
    }
    "/v1/revoke" {
        Post revoke::revoke_token => op(200, "RFC 7009 token revocation.", elsewhere("the token itself, or an owner"))
            .takes(schema::<TokenParam>, Media::JsonOrForm);
    }
    "/v1/resources" {
        Get resources::list_resources => op(200, "List the services this workspace guards.", HOST_OR_MANAGEMENT)
            .answers(items::<Resource>);
        Post resources::create_resource => op(201, "Register a service to guard, with its rules.", OWNER_OR_MANAGEMENT)
            .takes(schema::<CreateResource>, Media::Json).answers(schema::<Resource>);
    }
    "/v1/resources/{id}" {
        Get resources::get_resource => op(200, "Read a resource.", HOST_OR_MANAGEMENT).answers(schema::<Resource>);
        Patch resources::update_resource =>
            op(200, "Change a resource's name, identifier, scopes or rules.", OWNER_OR_MANAGEMENT)
            .takes(schema::<UpdateResource>, Media::Json).answers(schema::<Resource>);
        Delete resources::delete_resource => op(204, "Delete a resource.", OWNER_OR_MANAGEMENT);
    }
    "/v1/resources/{id}/metadata" {
        Get resources::resource_metadata => op(200, "RFC 9728 protected-resource metadata.", NONE)
            .answers(schema::<ResourceMetadata>);
    }
    // OAuth 2.1 (the consent page, /oauth/authorize, is the dashboard's).
    "/oauth/token" {
        Post oauth::token => op(200,
            "OAuth 2.1 token endpoint: authorization_code (PKCE), refresh_token, client assertion.",
            elsewhere("none (client_id, PKCE) or client assertion"))
            .takes(schema::<OAuthTokenRequest>, Media::Form).answers(schema::<BearerToken>);
    }
    "/oauth/register" {
        Post oauth::register => op(201, "RFC 7591 dynamic client registration (LATCHKEY_DCR).",
            elsewhere("none, or a host credential when LATCHKEY_DCR=token"))
            .takes(schema::<ClientRegistration>, Media::Json).answers(schema::<RegisteredClient>);
    }
    "/oauth/revoke" {
        Post oauth::revoke => op(200, "RFC 7009 revocation for OAuth clients (token, client_id).", NONE)
            .takes(schema::<OAuthRevokeRequest>, Media::Form);
    }
    "/v1/oauth/grants" {
        Get oauth::list_grants => op(200, "List the OAuth grants hosts approved in this workspace.", HOST)
            .answers(items::<Grant>);
    }
    "/v1/oauth/grants/{id}/revoke" {
        Post oauth::revoke_grant => op(200, "Revoke an OAuth grant: its tokens stop at once.", HOST)
            .answers(schema::<Revoked>);
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;

    #[test]
    fn no_api_path_is_answered_with_a_dashboard_page() {
        for op in super::operations() {
            let path = op.template().replace("{path}", "x");
            let req = actix_web::test::TestRequest::get()
                .uri(&path)
                .insert_header((header::ACCEPT, "text/html"))
                .to_http_request();
            assert!(!crate::http::wants_html(&req), "{path} would get a dashboard page for its errors");
        }
    }

    #[test]
    fn each_method_and_path_is_in_the_table_once() {
        let ops = super::operations();
        for (i, op) in ops.iter().enumerate() {
            assert!(
                !ops[..i].iter().any(|o| o.path == op.path && o.verb == op.verb),
                "{:?} {} twice",
                op.verb,
                op.path
            );
        }
    }
}

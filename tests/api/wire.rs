//! The answers read as the `latchkey::wire` types the CLI client and these
//! tests use: a field renamed, retyped or dropped on one side fails here.
//! (Schemathesis checks the same answers against `/openapi.json`, which is
//! generated from these types.)

use serde_json::json;

use crate::helpers::*;
use latchkey::model::{AgentStatus, Audience, PatStatus, Role, Scope};
use latchkey::wire::Items;
use latchkey::wire::agents::Agent;
use latchkey::wire::checkouts::{Approval, Checkout};
use latchkey::wire::pats::{MintPat, MintedPat, Pat};
use latchkey::wire::tokens::{BearerToken, Introspection, WhoAmI};
use latchkey::wire::workspace::{AuditEvent, Certificate, Member, Resource, ResourceMetadata};

#[test]
fn every_answer_reads_as_its_wire_type() {
    let app = TestApp::spawn();
    let (_, host) = app.owner_with_host_pat();
    let mut c = app.client();

    let who: WhoAmI = c.api("GET", "/v1/auth/whoami", Some(&host), None).wire();
    assert_eq!(who.credential.scope_type, Scope::Host);
    assert_eq!(who.user.as_ref().map(|u| u.role), Some(Role::Owner));

    let mint = MintPat {
        name: "typed".into(),
        scope_type: "agent".into(),
        audience: Some("both".into()),
        expires_in_days: Some(7),
        agent_id: None,
        agent_name: Some("typed-bot".into()),
        create_agent: true,
        daily_cap_usd: Some(json!("25.00")),
        budget: latchkey::wire::pats::BudgetFields { weekly_cap_usd: Some(json!("100.00")), ..Default::default() },
    };
    let res = c.api("POST", "/v1/pats", Some(&host), Some(json!(mint)));
    assert_eq!(res.status, 201, "{}", res.body);
    let minted: MintedPat = res.wire();
    assert!(minted.token.starts_with("lk_pat_"));
    assert_eq!(
        (minted.pat.scope_type, minted.pat.audience, minted.pat.status),
        (Scope::Agent, Audience::Both, PatStatus::Active)
    );
    assert_eq!(minted.pat.daily_cap_usd.as_deref(), Some("25.00"));
    let budget = minted.pat.budget.as_ref().expect("an agent PAT shows its budget");
    assert_eq!(budget.weekly_cap_usd.as_deref(), Some("100.00"));

    let pats: Items<Pat> = c.api("GET", "/v1/pats", Some(&host), None).wire();
    let host_pat = pats.items.iter().find(|p| p.scope_type == Scope::Host).expect("the host PAT");
    assert!(host_pat.budget.is_none(), "a host PAT has no budget");
    let pat: Pat = c.api("GET", &format!("/v1/pats/{}", minted.pat.id), Some(&host), None).wire();
    assert_eq!(pat.agent_name.as_deref(), Some("typed-bot"));

    let agents: Items<Agent> = c.api("GET", "/v1/agents", Some(&host), None).wire();
    assert!(agents.items.iter().any(|a| a.name == "typed-bot" && a.status == AgentStatus::Created));

    let members: Items<Member> = c.api("GET", "/v1/members", Some(&host), None).wire();
    assert_eq!(members.items.len(), 1);
    let res = c.api("POST", "/v1/certificates", Some(&host), Some(json!({"name": "typed"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let cert: Certificate = res.wire();
    assert!(cert.private_key.is_some_and(|k| k.contains("PRIVATE KEY")));
    let public: Certificate = c.api("GET", &format!("/v1/certificates/public/{}", cert.kid), None, None).wire();
    assert!(public.private_key.is_none() && public.jwk.is_some_and(|j| j.kty == "RSA"));
    let _: Items<Certificate> = c.api("GET", "/v1/certificates", Some(&host), None).wire();

    let res = c.api(
        "POST",
        "/v1/resources",
        Some(&host),
        Some(json!({"name": "typed", "identifier": "https://typed.example"})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let resource: Resource = res.wire();
    assert!(resource.rules.is_empty(), "no rules: the default applies");
    let meta: ResourceMetadata = c.api("GET", &format!("/v1/resources/{}/metadata", resource.id), None, None).wire();
    assert_eq!(meta.resource, "https://typed.example/");

    let service = app.mint_pat(&["--email", OWNER_EMAIL, "--name", "svc", "--scope", "service"]);
    let res = c.api("POST", "/v1/introspect", Some(&service), Some(json!({"token": minted.token})));
    match res.wire::<Introspection>() {
        Introspection::Live(live) => assert_eq!(live.scope, "agent"),
        Introspection::Inactive(_) => panic!("a fresh PAT is live: {}", res.body),
    }
    let res = c.api("POST", "/v1/introspect", Some(&service), Some(json!({"token": "lk_pat_nope"})));
    assert!(matches!(res.wire::<Introspection>(), Introspection::Inactive(i) if !i.active), "{}", res.body);

    let res = c.api("POST", "/v1/auth/exchange", Some(&minted.token), None);
    let jwt: BearerToken = res.wire();
    assert_eq!(jwt.kind.as_deref(), Some("agent"));

    let _: Items<Checkout> = c.api("GET", "/v1/checkouts", Some(&host), None).wire();
    let _: Items<Approval> = c.api("GET", "/v1/approvals", Some(&host), None).wire();
    let audit: Items<AuditEvent> = c.api("GET", "/v1/audit", Some(&host), None).wire();
    assert!(
        audit.items.iter().any(|e| e.kind == "pat.created"),
        "{:?}",
        audit.items.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
}

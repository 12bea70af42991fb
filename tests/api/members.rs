//! Members (docs/API.md §5.10): invitations shown once, roles, removal that
//! stops the member's tokens, and the last owner who stays.

use serde_json::json;

use crate::helpers::*;

#[test]
fn an_invited_person_joins_and_is_removed_with_their_tokens() {
    let app = TestApp::spawn();
    let (_owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let list = c.api("GET", "/v1/members", Some(&host), None).json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let owner_id = list["items"][0]["user_id"].as_str().unwrap().to_string();

    let res = c.api("POST", "/v1/members", Some(&host), Some(json!({"email": "Grace@Example.com", "role": "member"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let inv = res.json();
    assert_eq!(inv["email"], "grace@example.com");
    let url = inv["invitation_url"].as_str().unwrap().to_string();
    let path = url.trim_start_matches(&app.address).to_string();
    assert!(path.starts_with("/invite/lk_iv_"), "{url}");
    // An email that has an account gets the same kind of answer.
    let again = c.api("POST", "/v1/members", Some(&host), Some(json!({"email": OWNER_EMAIL}))).json();
    assert!(again["invitation_url"].is_string() && again["expires_at"].is_string());

    // The new person sets a password and is in.
    let mut grace = app.client();
    let page = grace.get(&path);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("grace@example.com") && page.body.contains("Choose a password"));
    let csrf = page.csrf();
    let pw = "grace hopper's compiler";
    let res = grace.post_form(&path, &[("csrf", &csrf), ("password", pw), ("confirm_password", pw)]);
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(grace.get("/").status, 200, "logged in");
    // Used once.
    assert_eq!(app.client().get(&path).status, 400);

    let members = c.api("GET", "/v1/members", Some(&host), None).json();
    let grace_id =
        members["items"].as_array().unwrap().iter().find(|m| m["email"] == "grace@example.com").unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_string();
    // A member is not an owner: the list is an owner's.
    let grace_pat = app.mint_pat(&["--email", "grace@example.com", "--name", "g", "--scope", "host"]);
    c.api("GET", "/v1/members", Some(&grace_pat), None).assert_error(403, "AUTH_SCOPE");

    // The last owner stays.
    c.api("PATCH", &format!("/v1/members/{owner_id}"), Some(&host), Some(json!({"role": "member"})))
        .assert_error(409, "CONFLICT");
    c.api("DELETE", &format!("/v1/members/{owner_id}"), Some(&host), None).assert_error(409, "CONFLICT");
    let res = c.api("PATCH", &format!("/v1/members/{grace_id}"), Some(&host), Some(json!({"role": "owner"})));
    assert_eq!(res.json()["role"], "owner");
    assert_eq!(c.api("GET", "/v1/members", Some(&grace_pat), None).status, 200, "owners list members");

    // Removed: her token stops at once.
    assert_eq!(c.api("DELETE", &format!("/v1/members/{grace_id}"), Some(&host), None).status, 204);
    c.api("GET", "/v1/auth/whoami", Some(&grace_pat), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    let audit = c.api("GET", "/v1/audit?kind=member.removed", Some(&host), None).json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

#[test]
fn the_members_page_shows_an_invitation_once() {
    let app = TestApp::spawn();
    let mut owner = app.setup_owner();
    let page = owner.get("/dashboard/members");
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let res = owner.post_form("/dashboard/members", &[("csrf", &csrf), ("email", "not-an-email"), ("role", "member")]);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("value=\"not-an-email\""), "the input is kept");
    // A role the form never offers is refused, not read as "member".
    let res =
        owner.post_form("/dashboard/members", &[("csrf", &csrf), ("email", "ada@example.com"), ("role", "admin")]);
    assert_eq!(res.status, 400);
    assert!(res.body.contains("Choose a role") && res.body.contains("value=\"ada@example.com\""), "{}", res.body);
    let res =
        owner.post_form("/dashboard/members", &[("csrf", &csrf), ("email", "ada@example.com"), ("role", "member")]);
    assert_eq!(res.status, 200);
    assert!(res.body.contains("/invite/lk_iv_"), "{}", res.body);
    assert!(!owner.get("/dashboard/members").body.contains("/invite/lk_iv_"), "shown once");
}

#[test]
fn the_admin_cli_invites_and_removes() {
    let app = TestApp::spawn();
    let (_owner, _host) = app.owner_with_host_pat();
    let (code, out, err) = run_cli(&app.data_dir, &["admin", "invite", "--email", "lin@example.com"], None);
    assert_eq!(code, 0, "{err}");
    let link = out.trim();
    let path = &link[link.find("/invite/").expect("a link")..];
    let mut lin = app.client();
    let page = lin.get(path);
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let pw = "lin's long passphrase";
    assert_eq!(lin.post_form(path, &[("csrf", &csrf), ("password", pw), ("confirm_password", pw)]).status, 303);
    let pat = app.mint_pat(&["--email", "lin@example.com", "--name", "l", "--scope", "host"]);
    assert_eq!(app.client().api("GET", "/v1/auth/whoami", Some(&pat), None).status, 200);
    let (code, _, err) = run_cli(&app.data_dir, &["admin", "remove-member", "--email", "lin@example.com"], None);
    assert_eq!(code, 0, "{err}");
    app.client().api("GET", "/v1/auth/whoami", Some(&pat), None).assert_error(401, "AUTH_TOKEN_REVOKED");
    let (code, _, err) = run_cli(&app.data_dir, &["admin", "remove-member", "--email", OWNER_EMAIL], None);
    assert_eq!(code, 1, "the last owner stays");
    assert!(err.contains("last owner"), "{err}");
}

/// Workspace-level actions are an owner's, through the API and the
/// dashboard alike: a member's host PAT gets 403 `AUTH_SCOPE` on each, and
/// a member's browser 403 (certificates, resources) or 404 (members).
#[test]
fn a_member_cannot_act_for_the_whole_workspace() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let res = c.api("POST", "/v1/members", Some(&host), Some(json!({"email": "mel@example.com", "role": "member"})));
    let path = res.json()["invitation_url"].as_str().unwrap().trim_start_matches(&app.address).to_string();
    let mut mel = app.client();
    let csrf = mel.get(&path).csrf();
    let pw = "a member's long password";
    assert_eq!(mel.post_form(&path, &[("csrf", &csrf), ("password", pw), ("confirm_password", pw)]).status, 303);
    let member = app.mint_pat(&["--email", "mel@example.com", "--name", "m", "--scope", "host"]);

    let cert = c.api("POST", "/v1/certificates", Some(&host), None).json()["id"].as_str().unwrap().to_string();
    let resource = json!({"name": "files", "identifier": "https://files.example.com/"});
    let res_id =
        c.api("POST", "/v1/resources", Some(&host), Some(resource.clone())).json()["id"].as_str().unwrap().to_string();
    let refused: [(&str, String, Option<serde_json::Value>); 9] = [
        ("POST", "/v1/certificates".into(), None),
        ("POST", format!("/v1/certificates/{cert}/revoke"), None),
        ("DELETE", format!("/v1/certificates/{cert}"), None),
        ("POST", "/v1/resources".into(), Some(json!({"name": "x", "identifier": "https://x.example.com/"}))),
        ("PATCH", format!("/v1/resources/{res_id}"), Some(json!({"name": "y"}))),
        ("DELETE", format!("/v1/resources/{res_id}"), None),
        ("GET", "/v1/members".into(), None),
        ("POST", "/v1/members".into(), Some(json!({"email": "x@example.com"}))),
        ("DELETE", "/v1/members/someone".into(), None),
    ];
    for (method, path, body) in refused {
        c.api(method, &path, Some(&member), body).assert_error(403, "AUTH_SCOPE");
    }
    // The owner still can; nothing the member tried happened.
    assert_eq!(c.api("GET", &format!("/v1/resources/{res_id}"), Some(&host), None).json()["name"], "files");

    let csrf = mel.get("/dashboard/agents").csrf();
    for path in ["/dashboard/certificates", "/dashboard/resources", "/dashboard/oauth-clients/registration-token"] {
        assert_eq!(mel.post_form(path, &[("csrf", &csrf), ("name", "x")]).status, 403, "{path}");
    }
    // Settings are every member's page; the mode switch is an owner's.
    let res = mel.post_form("/settings/security-mode", &[("csrf", &csrf), ("mode", "off"), ("confirm", "yes")]);
    assert_eq!(res.status, 403, "{}", res.body);
    assert!(res.body.contains("Only an owner"), "{}", res.body);
    assert_eq!(owner.get("/dashboard/agents").status, 200, "the mode is still on");
    assert_eq!(mel.get("/dashboard/members").status, 404);
    assert_eq!(owner.get("/dashboard/members").status, 200);
}

/// A role the members page never offers is refused (400), not read as
/// "member": the owner stays an owner.
#[test]
fn the_members_page_refuses_a_role_it_does_not_offer() {
    let app = TestApp::spawn();
    let (mut owner, host) = app.owner_with_host_pat();
    let mut c = app.client();
    let members = c.api("GET", "/v1/members", Some(&host), None).json();
    let owner_id = members["items"][0]["user_id"].as_str().unwrap().to_string();
    let csrf = owner.get("/dashboard/members").csrf();
    let path = format!("/dashboard/members/{owner_id}");
    let res = owner.post_form(&path, &[("csrf", &csrf), ("role", "admin"), ("action", "change")]);
    assert_eq!(res.status, 400, "{}", res.body);
    assert!(res.body.contains("Choose a role"), "{}", res.body);
    let members = c.api("GET", "/v1/members", Some(&host), None).json();
    assert_eq!(members["items"][0]["role"], "owner");
}

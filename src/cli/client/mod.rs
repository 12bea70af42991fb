//! The client side of the binary: operators and agent runtimes never
//! hand-roll HTTP or cryptography. Commands read the environment
//! (`LATCHKEY_URL`, `LATCHKEY_TOKEN_FILE`, `LATCHKEY_AGENT_ID`,
//! `LATCHKEY_WORKSPACE_ID`), then the stored login.

pub mod agent;
pub mod api;
pub mod profile;
pub mod store;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use serde_json::Value;

use self::api::Api;
use self::store::{Login, Profile};
use crate::cli::{AudienceArg, CliError};
use crate::crypto::sha256_hex;
use crate::model::{Audience, Scope};
use crate::wire::pats::{MintPat, MintedPat};
use crate::wire::tokens::WhoAmI;

/// The server and the credential a command uses.
pub struct Creds {
    pub url: String,
    pub token: String,
    pub workspace_id: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The active credentials: `LATCHKEY_TOKEN_FILE` (with `LATCHKEY_URL`), or
/// the stored login.
pub fn creds() -> Result<Creds, CliError> {
    let dir = store::config_dir()?;
    let login: Option<Login> = store::read_json(&store::login_path(&dir))?;
    if let Some(file) = env("LATCHKEY_TOKEN_FILE") {
        let token = std::fs::read_to_string(&file)
            .map_err(|e| CliError::Usage(format!("LATCHKEY_TOKEN_FILE {file}: {e}")))?
            .trim()
            .to_string();
        let url = env("LATCHKEY_URL")
            .or_else(|| login.as_ref().map(|l| l.url.clone()))
            .ok_or_else(|| CliError::Usage("LATCHKEY_TOKEN_FILE is set but LATCHKEY_URL is not".into()))?;
        return Ok(Creds { url, token, workspace_id: env("LATCHKEY_WORKSPACE_ID") });
    }
    let login = login.ok_or_else(|| CliError::Usage("not logged in: run `latchkey login --url URL` first".into()))?;
    Ok(Creds {
        url: env("LATCHKEY_URL").unwrap_or(login.url),
        token: login.token,
        workspace_id: env("LATCHKEY_WORKSPACE_ID").or(login.workspace_id),
    })
}

/// Reads a secret: a hidden prompt on a terminal, one line of stdin otherwise.
fn read_secret(prompt: &str) -> Result<String, CliError> {
    let raw = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| CliError::Failed(format!("cannot read the token: {e}")))?
    } else {
        let mut s = String::new();
        std::io::stdin()
            .take(8192)
            .read_to_string(&mut s)
            .map_err(|e| CliError::Failed(format!("cannot read the token from standard input: {e}")))?;
        s.lines().next().unwrap_or("").to_string()
    };
    let token = raw.trim().to_string();
    if token.is_empty() {
        return Err(CliError::Usage("no token given".into()));
    }
    Ok(token)
}

pub(crate) fn parse_url(raw: &str) -> Result<String, CliError> {
    let url = raw.trim().trim_end_matches('/');
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_string())
    } else {
        Err(CliError::Usage(format!("--url: {raw:?} is not an http(s) URL")))
    }
}

/// `latchkey login --url URL [--workspace-id ID]`.
pub fn login(url: &str, workspace_id: Option<String>) -> Result<(), CliError> {
    let url = parse_url(url)?;
    let token = read_secret("Personal access token (input hidden): ")?;
    let who: WhoAmI = Api::new(&url).json("GET", "/v1/auth/whoami", Some(&token), None)?.into_wire()?;
    let scope = who.credential.scope_type.as_str();
    if who.credential.scope_type != Scope::Host {
        return Err(CliError::Failed(format!(
            "this is {} {scope} token; `latchkey login` needs a host token: create one on the dashboard's Tokens page \
             (scope host) and run `latchkey login --url {url}` again. Agents use their token through a profile \
             (`latchkey token mint NAME --profile NAME`) or LATCHKEY_TOKEN_FILE.",
            if scope.starts_with('a') { "an" } else { "a" }
        )));
    }
    let ws = who.workspace.id.to_string();
    if let Some(wanted) = &workspace_id
        && wanted != &ws
    {
        return Err(CliError::Failed(format!("this token belongs to workspace {ws}, not {wanted}")));
    }
    let dir = store::config_dir()?;
    store::private_dir(&dir)?;
    store::write_json(&store::login_path(&dir), &Login { url: url.clone(), workspace_id: Some(ws), token })?;
    eprintln!("Logged in to {url} as {}.", describe_who(&who));
    Ok(())
}

fn describe_who(who: &WhoAmI) -> String {
    let ws = &who.workspace.name;
    match (&who.bound_agent, &who.user) {
        (Some(agent), _) => format!("agent {} in workspace {ws}", agent.agent_name),
        (None, Some(user)) => format!("{} ({}) in workspace {ws}", user.email, user.role),
        (None, None) => format!("a workspace credential of {ws}"),
    }
}

/// `latchkey auth whoami [--json]`.
pub fn whoami(as_json: bool) -> Result<(), CliError> {
    let c = creds()?;
    let reply = Api::new(&c.url).json("GET", "/v1/auth/whoami", Some(&c.token), None)?;
    if as_json {
        println!("{}", reply.into_ok()?);
        return Ok(());
    }
    let who: WhoAmI = reply.into_wire()?;
    let cred = &who.credential;
    let kind = if who.bound_agent.is_none() { "a user session" } else { "an agent session" };
    println!("{}: {}", c.url, describe_who(&who));
    println!(
        "This is {kind}: {} credential, {} scope, audience {}, expires {}.",
        cred.kind, cred.scope_type, cred.audience, cred.expires_at
    );
    Ok(())
}

pub struct MintArgs {
    pub name: String,
    pub create: bool,
    pub audience: AudienceArg,
    pub expires: i64,
    pub cap: Option<String>,
    pub save_to: Option<PathBuf>,
    pub profile: Option<String>,
    pub no_print_token: bool,
}

/// `latchkey token mint NAME …`: an agent PAT, saved and/or printed.
pub fn mint(args: MintArgs) -> Result<(), CliError> {
    if let Some(p) = &args.profile {
        store::check_profile_name(p)?;
    }
    let dir = store::config_dir()?;
    let save_dir = match (&args.save_to, &args.profile) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(p)) => Some(dir.join("profiles").join(p)),
        (None, None) => None,
    };
    if args.no_print_token && save_dir.is_none() {
        return Err(CliError::Usage(
            "--no-print-token needs --save-to DIR or --profile NAME, or the token is lost".into(),
        ));
    }
    let c = creds()?;
    let audience = match args.audience {
        AudienceArg::Api => Audience::Api,
        AudienceArg::Exchange => Audience::Exchange,
        AudienceArg::Both => Audience::Both,
    };
    let body = MintPat {
        name: args.name.clone(),
        scope_type: Scope::Agent.as_str().into(),
        audience: Some(audience.as_str().into()),
        expires_in_days: Some(args.expires),
        agent_id: None,
        agent_name: Some(args.name.clone()),
        create_agent: args.create,
        daily_cap_usd: args.cap.clone().map(Value::String),
        budget: Default::default(),
    };
    let body = serde_json::to_value(&body).map_err(|e| CliError::Failed(e.to_string()))?;
    let api = Api::new(&c.url);
    let reply = api.json("POST", "/v1/pats", Some(&c.token), Some(&body))?;
    if !args.create && reply.status == 404 {
        return Err(CliError::Failed(format!(
            "there is no agent named {0} in this workspace: add --create to make it (`latchkey token mint {0} --create`)",
            args.name
        )));
    }
    let created: MintedPat = reply.into_wire()?;
    let token = created.token.as_str();

    if let Some(save) = &save_dir {
        let file = save.join("token");
        store::write_private(&file, token.as_bytes())?;
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        eprintln!("Token written to {} (mode 0600).", file.display());
        if let Some(name) = &args.profile {
            let profile = Profile {
                url: c.url.clone(),
                workspace_id: created.pat.workspace_id.clone(),
                agent_id: created.pat.agent_id.clone().unwrap_or_default(),
                agent_name: created.pat.agent_name.clone().unwrap_or_default(),
                token_file: file,
                token_sha256: sha256_hex(token.as_bytes()),
            };
            store::write_json(&store::profile_path(&dir, name), &profile)?;
            eprintln!("Profile {name} saved; `eval \"$(latchkey profile env {name})\"` activates it.");
        }
    }
    if !args.no_print_token {
        println!("{token}");
    }
    Ok(())
}

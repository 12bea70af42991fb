//! `/v1/agents` (docs/API.md §5.4, basic lifecycle).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ListQuery, actor_of};
use crate::db;
use crate::db::agents::Agent;
use crate::domain::agents;
use crate::domain::ids::AgentId;
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::bearer::HostCaller;
use crate::state::AppState;
use crate::wire::Items;
use crate::wire::agents as wire;

/// An agent as the API shows it.
pub fn view(a: &Agent) -> wire::Agent {
    wire::Agent {
        id: a.id.0.clone(),
        workspace_id: a.workspace_id.0.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        status: a.status,
        enrolled_at: a.enrolled_at.map(|t| t.to_rfc3339()),
        key_thumbprint: a.key_thumbprint.clone(),
        kind: a.kind,
        created_at: a.created_at.to_rfc3339(),
        updated_at: a.updated_at.to_rfc3339(),
    }
}

/// A host credential: creates an agent owned by the caller.
pub async fn create_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    body: web::Json<wire::CreateAgent>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let name = agents::parse_name(&body.name)?;
    let description = agents::parse_description(body.description.as_deref())?;
    let owner = p.acting()?.user_id;
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let ws = p.workspace.id.clone();
    let ttl = state.config.bootstrap_secret_ttl_hours;
    let (agent, secret, expires) = state
        .db
        .write(move |tx| {
            let by = origin.by();
            crate::domain::enrollment::create_agent_with_secret(tx, &ws, &name, &description, owner.as_ref(), ttl, &by)
        })
        .await?;
    Ok(HttpResponse::Created().json(wire::CreatedAgent {
        agent: view(&agent),
        secret: wire::BootstrapSecret {
            bootstrap_secret: secret.into_inner(),
            bootstrap_secret_expires_at: expires.to_rfc3339(),
        },
    }))
}

/// A host credential: the workspace's agents (a member's own only).
pub async fn list_agents(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit()?;
    let before = query.into_inner().before;
    let who = p.acting()?;
    let ws = p.workspace.id.clone();
    let items =
        state.db.read(move |conn| db::agents::list(conn, &ws, who.only_own(), before.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(Items { items: items.iter().map(view).collect() }))
}

/// The agent if the caller may manage it; 404 otherwise, never 403.
pub async fn load(state: &AppState, p: &Principal, id: String) -> Result<Agent, AppError> {
    let (ws, who) = (p.workspace.id.clone(), p.acting()?);
    state.db.read(move |conn| agents::get_manageable(conn, &ws, &AgentId(id), &who)).await
}

/// A host credential that may manage the agent.
pub async fn get_agent(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let agent = load(&state, &p, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(&agent)))
}

async fn set_enabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    p: Principal,
    id: String,
    enabled: bool,
) -> Result<HttpResponse, AppError> {
    let agent = load(&state, &p, id).await?;
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let agent = state.db.write(move |tx| agents::set_enabled(tx, &agent, enabled, &origin.by())).await?;
    Ok(HttpResponse::Ok().json(view(&agent)))
}

/// A host credential that may manage the agent: every credential bound to
/// it stops working on its next request.
pub async fn disable_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    set_enabled(req, state, p, id.into_inner(), false).await
}

/// A host credential that may manage the agent.
pub async fn enable_agent(
    req: HttpRequest,
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    set_enabled(req, state, p, id.into_inner(), true).await
}

//! `/v1/resources` (docs/API.md §5.7): the services a workspace guards.
//! Host credentials read them; owners and management credentials change
//! them. The RFC 9728 metadata document is public.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ListQuery, actor_of};
use crate::db;
use crate::domain::principal::Principal;
use crate::domain::resources::{self, Fields, Resource};
use crate::error::AppError;
use crate::http::bearer::{HostCaller, OwnerCaller};
use crate::model::ids::ResourceId;
use crate::state::AppState;
use crate::wire::workspace as wire;

/// A resource as the API shows it.
pub fn view(r: &Resource) -> wire::Resource {
    wire::Resource {
        id: r.id.0.clone(),
        workspace_id: r.workspace_id.0.clone(),
        name: r.name.clone(),
        identifier: r.identifier.clone(),
        scopes: r.scopes.clone(),
        rules: r.rules.clone(),
        metadata_url: resources::metadata_url(&r.identifier),
        created_at: r.created_at.to_rfc3339(),
        updated_at: r.updated_at.to_rfc3339(),
    }
}

pub async fn create_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    body: web::Json<wire::CreateResource>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let (identifier, authority) = resources::parse_identifier(&body.identifier)?;
    let fields = Fields {
        name: resources::parse_name(&body.name)?,
        identifier,
        authority,
        scopes: resources::parse_scopes("scopes", body.scopes.as_deref().unwrap_or_default())?,
        rules: resources::parse_rules(body.rules.as_deref().unwrap_or_default())?,
    };
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let ws = p.workspace.id.clone();
    let resource = state.db.write(move |tx| resources::create(tx, &ws, fields, &origin.by())).await?;
    Ok(HttpResponse::Created().json(view(&resource)))
}

pub async fn list_resources(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit()?;
    let before = query.into_inner().before;
    let ws = p.workspace.id.clone();
    let items = state.db.read(move |conn| db::resources::list(conn, &ws, before.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(crate::wire::Items { items: items.iter().map(view).collect() }))
}

async fn load(state: &AppState, p: &Principal, id: String) -> Result<Resource, AppError> {
    let (ws, id) = (p.workspace.id.clone(), ResourceId(id));
    state.db.read(move |conn| db::resources::find(conn, &ws, &id)?.ok_or(AppError::NotFound)).await
}

pub async fn get_resource(
    state: web::Data<AppState>,
    HostCaller(p): HostCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(view(&load(&state, &p, id.into_inner()).await?)))
}

pub async fn update_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    id: web::Path<String>,
    body: web::Json<wire::UpdateResource>,
) -> Result<HttpResponse, AppError> {
    let current = load(&state, &p, id.into_inner()).await?;
    let body = body.into_inner();
    let (identifier, authority) = match &body.identifier {
        Some(raw) => resources::parse_identifier(raw)?,
        None => (current.identifier.clone(), current.authority.clone()),
    };
    let fields = Fields {
        name: match &body.name {
            Some(raw) => resources::parse_name(raw)?,
            None => current.name.clone(),
        },
        identifier,
        authority,
        scopes: match &body.scopes {
            Some(raw) => resources::parse_scopes("scopes", raw)?,
            None => current.scopes.clone(),
        },
        rules: match &body.rules {
            Some(raw) => resources::parse_rules(raw)?,
            None => current.rules.clone(),
        },
    };
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let resource = state.db.write(move |tx| resources::update(tx, current, fields, &origin.by())).await?;
    Ok(HttpResponse::Ok().json(view(&resource)))
}

pub async fn delete_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    OwnerCaller(p): OwnerCaller,
    id: web::Path<ResourceId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let ws = p.workspace.id.clone();
    state.db.write(move |tx| resources::delete(tx, &ws, &id, &origin.by())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// No authentication: the RFC 9728 protected-resource metadata.
pub async fn resource_metadata(
    state: web::Data<AppState>,
    id: web::Path<ResourceId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let resource =
        state.db.read_here(move |conn| db::resources::find_any(conn, &id)).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(wire::ResourceMetadata {
        resource: resource.identifier,
        authorization_servers: vec![state.authn.issuer.to_string()],
        scopes_supported: resource.scopes,
        bearer_methods_supported: vec!["header".into()],
        resource_name: resource.name,
    }))
}

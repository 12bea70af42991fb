//! The whole API suite again, on PostgreSQL: every test of `tests/api`
//! runs against a database of its own on the server
//! `LATCHKEY_TEST_POSTGRES_URL` names (`.ci/run` starts one). Without it
//! (and without `LATCHKEY_REQUIRE_POSTGRES=1`) the tests run on SQLite, and
//! the PostgreSQL-only ones (`replicas`, `schema`) return at once. The
//! module list is `tests/api/main.rs`'s (a test in `helpers` compares them).

#[path = "api/browser.rs"]
mod browser;
#[path = "api/budgets.rs"]
mod budgets;
#[path = "api/certificates.rs"]
mod certificates;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/client.rs"]
mod client;
#[path = "api/dashboard.rs"]
mod dashboard;
#[path = "api/dashboard_tokens.rs"]
mod dashboard_tokens;
#[path = "api/engine.rs"]
mod engine;
#[path = "api/enrollment.rs"]
mod enrollment;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/mcp.rs"]
mod mcp;
#[path = "api/members.rs"]
mod members;
#[path = "api/oauth.rs"]
mod oauth;
#[path = "api/openapi_fuzz.rs"]
mod openapi_fuzz;
#[path = "api/operators.rs"]
mod operators;
#[path = "api/ops.rs"]
mod ops;
#[path = "api/proxies.rs"]
mod proxies;
#[path = "api/replicas.rs"]
mod replicas;
#[path = "api/resources.rs"]
mod resources;
#[path = "api/schema.rs"]
mod schema;
#[path = "api/security_mode.rs"]
mod security_mode;
#[path = "api/setup.rs"]
mod setup;
#[path = "api/signed.rs"]
mod signed;
#[path = "api/tokens.rs"]
mod tokens;
#[path = "api/wire.rs"]
mod wire;

//! One integration test binary: the real server over HTTP, and the real
//! binary for the command line.

mod helpers;

mod browser;
mod budgets;
mod certificates;
mod cli;
mod client;
mod dashboard;
mod dashboard_tokens;
mod engine;
mod enrollment;
mod errors;
mod mcp;
mod members;
mod oauth;
mod openapi_fuzz;
mod operators;
mod ops;
mod proxies;
mod replicas;
mod resources;
mod schema;
mod security_mode;
mod setup;
mod signed;
mod tokens;
mod wire;

//! Latchkey: a self-hosted, single-binary appliance that gives AI agents a
//! safe, explicit way into a host's systems.

pub mod app;
pub mod audit_queue;
pub mod cimd;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod model;
pub mod rate_limit;
pub mod state;
pub mod telemetry;
pub mod webhooks;
pub mod wire;

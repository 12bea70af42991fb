//! `latchkey profile list|verify|env`.

use std::path::Path;

use super::api::Api;
use super::store::{self, Profile};
use crate::cli::CliError;
use crate::crypto::{constant_time_eq, sha256_hex};

const VARS: [&str; 4] = ["LATCHKEY_URL", "LATCHKEY_TOKEN_FILE", "LATCHKEY_AGENT_ID", "LATCHKEY_WORKSPACE_ID"];

fn load(name: &str) -> Result<Profile, CliError> {
    store::check_profile_name(name)?;
    let dir = store::config_dir()?;
    store::read_json(&store::profile_path(&dir, name))?.ok_or_else(|| {
        CliError::Failed(format!("no profile named {name}: `latchkey token mint NAME --profile {name}` makes one"))
    })
}

/// Checks a profile end to end; the error names what is wrong.
pub fn check(name: &str) -> Result<Profile, CliError> {
    let p = load(name)?;
    let file: &Path = &p.token_file;
    let mode =
        store::mode_of(file).ok_or_else(|| CliError::Failed(format!("token file {} is missing", file.display())))?;
    if mode != 0o600 {
        return Err(CliError::Failed(format!("token file {} has mode {mode:o}, not 600", file.display())));
    }
    let token = std::fs::read_to_string(file)
        .map_err(|e| CliError::Failed(format!("cannot read token file {}: {e}", file.display())))?;
    let token = token.trim();
    if !constant_time_eq(sha256_hex(token.as_bytes()).as_bytes(), p.token_sha256.as_bytes()) {
        return Err(CliError::Failed(format!(
            "token file {} does not match the profile's fingerprint",
            file.display()
        )));
    }
    let who = Api::new(&p.url).json("GET", "/v1/auth/whoami", Some(token), None)?.into_ok()?;
    if who["bound_agent"]["agent_id"].as_str() != Some(p.agent_id.as_str()) {
        return Err(CliError::Failed(format!("the token is not bound to agent {} ({})", p.agent_name, p.agent_id)));
    }
    Ok(p)
}

pub fn list() -> Result<(), CliError> {
    let dir = store::config_dir()?.join("profiles");
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    if names.is_empty() {
        eprintln!("No profiles yet: `latchkey token mint NAME --profile NAME` makes one.");
    }
    for name in names {
        match load(&name) {
            Ok(p) => println!("{name}\tagent {}\t{}", p.agent_name, p.url),
            Err(_) => println!("{name}\t(unreadable)"),
        }
    }
    Ok(())
}

pub fn verify(name: &str) -> Result<(), CliError> {
    let p = check(name)?;
    println!("profile {name} is good: agent {} at {}", p.agent_name, p.url);
    Ok(())
}

/// Single-quotes a value for POSIX shells.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `export` lines on success; `unset` lines and a non-zero exit on any
/// failure, so `eval "$(latchkey profile env p)"` fails closed.
pub fn env(name: &str) -> Result<(), CliError> {
    match check(name) {
        Ok(p) => {
            let file = p.token_file.to_string_lossy().into_owned();
            let values = [p.url.as_str(), file.as_str(), p.agent_id.as_str(), p.workspace_id.as_str()];
            for (var, value) in VARS.iter().zip(values) {
                println!("export {var}={}", quote(value));
            }
            Ok(())
        }
        Err(e) => {
            println!("unset {}", VARS.join(" "));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(super::quote("a'b"), "'a'\\''b'");
        assert_eq!(super::quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}

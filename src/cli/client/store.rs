//! What the client keeps on disk, under `$LATCHKEY_CONFIG_DIR` (default
//! `~/.config/latchkey`): the directory is 0700, every file 0600 and
//! written atomically (a temporary file renamed into place).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cli::CliError;

pub fn config_dir() -> Result<PathBuf, CliError> {
    if let Some(dir) = std::env::var_os("LATCHKEY_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| CliError::Usage("neither LATCHKEY_CONFIG_DIR nor HOME is set".into()))?;
    Ok(PathBuf::from(home).join(".config").join("latchkey"))
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn private_dir(dir: &Path) -> Result<(), CliError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Writes `data` to `path` with mode 0600, atomically.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), CliError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::Failed(format!("cannot write {}: {e}", path.display())));
    }
    Ok(())
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let data = serde_json::to_vec_pretty(value).map_err(|e| CliError::Failed(e.to_string()))?;
    write_private(path, &data)
}

/// `Ok(None)` when the file does not exist; a corrupt file is an error that
/// names it.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, CliError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|_| {
            CliError::Failed(format!("{} is corrupt; remove it and run the command that made it again", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::Failed(format!("cannot read {}: {e}", path.display()))),
    }
}

pub fn mode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

/// `latchkey login`: the server and the person's PAT.
#[derive(Serialize, Deserialize)]
pub struct Login {
    pub url: String,
    pub workspace_id: Option<String>,
    pub token: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("url", &self.url).field("token", &"<redacted>").finish()
    }
}

/// A named agent profile written by `token mint --profile`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    pub workspace_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub token_file: PathBuf,
    /// SHA-256 (hex) of the token file's content.
    pub token_sha256: String,
}

/// `latchkey agent enroll`: the agent's registered ES256 key.
#[derive(Serialize, Deserialize)]
pub struct Enrollment {
    pub url: String,
    pub agent_id: String,
    pub workspace_id: String,
    /// PKCS#8 PEM of the P-256 private key.
    pub private_key_pem: String,
}

/// `latchkey agent session`: an ephemeral Ed25519 key and its session JWT.
#[derive(Serialize, Deserialize)]
pub struct SessionFile {
    pub url: String,
    pub session_id: String,
    pub agent_id: String,
    pub jwt: String,
    pub expires_at: i64,
    /// base64 of the 32-byte Ed25519 seed.
    pub key_seed: String,
}

pub fn login_path(dir: &Path) -> PathBuf {
    dir.join("login.json")
}

pub fn profile_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("profiles").join(format!("{name}.json"))
}

pub fn enrollment_path(dir: &Path) -> PathBuf {
    dir.join("agent").join("enrollment.json")
}

/// One session per credential (server and token): switching profiles or
/// token files never signs as another agent.
pub fn session_path(dir: &Path, url: &str, token: &str) -> PathBuf {
    let id = crate::crypto::sha256_hex(format!("{}\n{token}", url.trim_end_matches('/')).as_bytes());
    dir.join("agent").join("sessions").join(format!("{}.json", &id[..24]))
}

/// Profile names become file names: keep them plain.
pub fn check_profile_name(name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.');
    if ok { Ok(()) } else { Err(CliError::Usage(format!("profile name {name:?}: letters, digits, '.', '_' or '-'"))) }
}

//! The dashboard in a real browser: `tests/browser/dashboard.mjs` drives
//! Debian's Chromium through playwright-core (`npm ci` in `tests/browser`,
//! which `.ci/run` does) over every page at 1280 and 390 px with axe-core,
//! and through the flows a host clicks. Screenshots land in
//! `target/browser-screenshots` for a person to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("LATCHKEY_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    path.exists().then_some(path)
}

#[test]
fn the_dashboard_holds_up_in_chromium_at_desktop_and_phone_widths() {
    if on_postgres() {
        // Pages are the same on either backend; once is enough.
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let (Some(chromium), true) = (chromium(), dir.join("node_modules/playwright-core").exists()) else {
        assert!(
            std::env::var_os("LATCHKEY_REQUIRE_BROWSER").is_none(),
            "LATCHKEY_REQUIRE_BROWSER is set but Chromium or tests/browser/node_modules is missing"
        );
        eprintln!("skipped: install chromium and run `npm ci` in tests/browser");
        return;
    };
    let app = TestApp::spawn();
    let _ = app.owner_with_host_pat();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("dashboard.mjs")
        .args(["--url", &app.address, "--email", OWNER_EMAIL, "--password", OWNER_PASSWORD])
        .arg("--chromium")
        .arg(&chromium)
        .arg("--screenshots")
        .arg(&shots)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

//! A migration that has run somewhere must never change: refinery compares
//! each applied migration with the embedded one and refuses to start on a
//! difference ("applied migration V11__oauth is different than filesystem
//! one"), so editing one, even a comment, locks every existing install out.
//! Change the schema with a new `VN__…` file instead; add its line here.

use sha2::{Digest, Sha256};

/// Every migration file and the SHA-256 of its bytes.
const RELEASED: &[(&str, &str)] = &[
    ("migrations/postgres/V15__schema.sql", "894c6c547cacdc66149e3e3ce2bee42c88c20ec103eeefa9a29034e02d128e89"),
    (
        "migrations/postgres/V16__certificate_names.sql",
        "937c2e6104460f0d90e10a58a90a145790b0d345bcb9cea49005518496f42510",
    ),
    (
        "migrations/postgres/V17__access_token_selectors.sql",
        "d77e2711abff59b444e8019bf680bae46cca47d56f353018d58cfeffaebe11dd",
    ),
    ("migrations/sqlite/V10__resources.sql", "cd74c91d8e18d40874d161719af401effc33fc370e115ea911e1cc5b7481eace"),
    ("migrations/sqlite/V11__oauth.sql", "34375dc2a4d4ecf85921157bf7f1b3187b31f5c1f189ee3544f26b872ca4a821"),
    (
        "migrations/sqlite/V12__registration_tokens.sql",
        "c863e80d267f3bab406480ff1cfde36c3f8eb7adf97cc44e37a0d9c032164a44",
    ),
    ("migrations/sqlite/V13__budgets.sql", "afa5c6dee84e2d136af89b1a194dfd5c454dd202a7200394681e6d1e68e123a8"),
    ("migrations/sqlite/V14__approvals.sql", "53282fc2aeda5de5ee60b88151e31971df253499903ba5b19523fe1afe4d4c67"),
    ("migrations/sqlite/V15__invitations.sql", "912192aa8a9d4836b971ef8d6cdf961e201aefb5d4c891f8542c626a62a8c961"),
    (
        "migrations/sqlite/V16__certificate_names.sql",
        "937c2e6104460f0d90e10a58a90a145790b0d345bcb9cea49005518496f42510",
    ),
    (
        "migrations/sqlite/V17__access_token_selectors.sql",
        "68aebbe69b8be694d083b1dcc8329d4f02b862c8b7b37923928331b4c571a009",
    ),
    ("migrations/sqlite/V1__init.sql", "c785a9c9e87beb35fc6da0f835af81818e9f189ccae4fbdefa8558301d1e8bc6"),
    ("migrations/sqlite/V2__agents_and_pats.sql", "40be220255d5f817545d9b120cda9dd4b4c02a73093cfb1f38f6ab411333ecbe"),
    (
        "migrations/sqlite/V3__sessions_and_checkouts.sql",
        "7e2a5d1c30b3880d94686d4ca99a3c9d4f06b3a0724c959ef6d517ea3fc8d258",
    ),
    ("migrations/sqlite/V4__enrollment.sql", "6ef873110f3d9f1b0aeba729afd78fcff8590c2a420d8502adb91a9a4fc17b98"),
    ("migrations/sqlite/V5__certificates.sql", "6621b963cdadff9de8bb647227ef19c77a9288f8163b378f3067efad85670fcc"),
    ("migrations/sqlite/V6__pat_delegation.sql", "8fbe5fe4668708b5072301720e3e98eb0a3c1d497b76af84fe9adefb7924d0a1"),
    ("migrations/sqlite/V7__replays_by_time.sql", "ae25b22c95cfbe67a69f81b0ee24376622be1eb230c32fbdaf72bc6a6adab62e"),
    ("migrations/sqlite/V8__prune_indexes.sql", "aa062168277d87c7c5a1b9a940cca10744fd27cbbf41b0464f1ceb17275769ab"),
    (
        "migrations/sqlite/V9__scoped_delegated_users.sql",
        "5f10f61b8bf1b75891eed60ef25397596d4670199a334a724a930714ae71034e",
    ),
];

#[test]
fn released_migrations_never_change_and_each_file_is_listed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, expected) in RELEASED {
        let bytes = std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let actual: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&actual, expected, "{path} changed after release: revert it and add a new migration");
    }
    for dir in ["migrations/sqlite", "migrations/postgres"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(RELEASED.iter().any(|(p, _)| *p == name), "{name} is not listed in tests/migrations.rs");
        }
    }
}

//! Opaque secret formats (docs/API.md §3): `<prefix><32 base62><6 base62
//! CRC-32>`. The checksum is checked before any database lookup, so typos
//! and scanner-found garbage cost nothing; the database keeps only SHA-256.

use std::fmt;

use super::{BASE62, random_base62, sha256};

const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// How many of an access token's 32 characters are its selector.
pub const SELECTOR_LEN: usize = 12;

/// Every kind of opaque secret Latchkey issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Pat,
    BootstrapSecret,
    AccessToken,
    /// An OAuth authorization code (one use, 60 s).
    AuthorizationCode,
    /// An OAuth refresh token (rotated on every use).
    RefreshToken,
    /// An initial access token for OAuth client registration (`LATCHKEY_DCR=token`).
    RegistrationToken,
    /// A one-time workspace invitation link.
    Invitation,
}

impl TokenKind {
    pub const ALL: [TokenKind; 7] = [
        TokenKind::Pat,
        TokenKind::BootstrapSecret,
        TokenKind::AccessToken,
        TokenKind::AuthorizationCode,
        TokenKind::RefreshToken,
        TokenKind::RegistrationToken,
        TokenKind::Invitation,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Pat => "lk_pat_",
            TokenKind::BootstrapSecret => "lk_bs_",
            TokenKind::AccessToken => "lk_at_",
            TokenKind::AuthorizationCode => "lk_ac_",
            TokenKind::RefreshToken => "lk_rt_",
            TokenKind::RegistrationToken => "lk_rg_",
            TokenKind::Invitation => "lk_iv_",
        }
    }
}

/// A secret in plaintext: shown once, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// A fresh token of `kind` from the OS CSPRNG.
    pub fn generate(kind: TokenKind) -> SecretToken {
        let random = random_base62(RANDOM_LEN);
        let checksum = checksum(&random);
        SecretToken(format!("{}{random}{checksum}", kind.prefix()))
    }

    /// A fresh token whose first [`SELECTOR_LEN`] characters are a
    /// time-ordered selector: the Unix time in milliseconds, then 29 random
    /// bits, in base62 (its alphabet is in ASCII order, so selectors sort
    /// by time). The other 20 characters (119 bits) are the secret. The
    /// selector is the row's id, so rows are found without an index on a
    /// random key; the SHA-256 of the whole token is still what is
    /// compared. Returns the token and its selector.
    pub fn generate_with_selector(kind: TokenKind, unix_ms: u64) -> (SecretToken, String) {
        let n = (u128::from(unix_ms & ((1 << 42) - 1)) << 29) | u128::from(rand::random::<u32>() >> 3);
        let selector = base62_padded(n, SELECTOR_LEN);
        let random = format!("{selector}{}", random_base62(RANDOM_LEN - SELECTOR_LEN));
        let checksum = checksum(&random);
        (SecretToken(format!("{}{random}{checksum}", kind.prefix())), selector)
    }

    /// A token of `kind` whose random part is derived from `seed` (a
    /// keyed hash, so only the server can derive it): a rotated refresh
    /// token's successor, recomputed when a client retries in parallel.
    pub fn derived(kind: TokenKind, seed: &[u8; 32]) -> SecretToken {
        let random: String = seed.iter().map(|b| BASE62[(*b % 62) as usize] as char).collect();
        let checksum = checksum(&random);
        SecretToken(format!("{}{random}{checksum}", kind.prefix()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn hash(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }

    /// What the dashboard and API show instead: `lk_pat_AbCd…`.
    pub fn hint(&self) -> String {
        hint(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// The prefix and first four random characters, then an ellipsis.
pub fn hint(token: &str) -> String {
    let prefix_len =
        TokenKind::ALL.iter().find(|k| token.starts_with(k.prefix())).map(|k| k.prefix().len()).unwrap_or(0);
    let end = (prefix_len + 4).min(token.len());
    format!("{}…", token.get(..end).unwrap_or(""))
}

/// The CRC-32 (IEEE) of `random`, in base62, most significant digit first,
/// left-padded with `0` to six characters.
pub fn checksum(random: &str) -> String {
    base62_padded(u128::from(crc32fast::hash(random.as_bytes())), CHECKSUM_LEN)
}

/// `n` in base62, most significant digit first, left-padded with `0` to
/// `width` characters (the low digits only if it needs more).
fn base62_padded(mut n: u128, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // Base62 digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Recognises a well-formed token of `kind` with a correct checksum; returns
/// its SHA-256 for the lookup.
pub fn parse(kind: TokenKind, candidate: &str) -> Option<[u8; 32]> {
    let body = candidate.strip_prefix(kind.prefix())?;
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| BASE62.contains(&b)) {
        return None;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    super::constant_time_eq(checksum(random).as_bytes(), sum.as_bytes()).then(|| sha256(candidate.as_bytes()))
}

/// The selector of a token [`parse`] accepted (see
/// [`SecretToken::generate_with_selector`]).
pub fn selector(kind: TokenKind, token: &str) -> Option<&str> {
    token.strip_prefix(kind.prefix())?.get(..SELECTOR_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/vectors.json`, section "tokens".
    const VECTORS: [(&str, &str, u32, &str, &str); 3] = [
        (
            "lk_pat_",
            "0123456789ABCDEFGHIJKLMNOPQRSTUV",
            1546885699,
            "1ggZdL",
            "ccdefa5f96c5b8df46afc70d0d9941cd3ec5dcebabf3290975ec80cd7a33eb3e",
        ),
        (
            "lk_bs_",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            3400603511,
            "3i8aJj",
            "05454eea00425ca37d11978eec9cce5318db18a2271975d403aa08d0bd6f08e4",
        ),
        (
            "lk_at_",
            "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp",
            3725688104,
            "448bfc",
            "506993fb2e6ad9f82777c2e236cb2399d22caa80aeeb264ae14d6249ce122772",
        ),
    ];

    #[test]
    fn matches_the_shared_test_vectors() {
        for (prefix, random, crc, sum, sha) in VECTORS {
            assert_eq!(crc32fast::hash(random.as_bytes()), crc);
            assert_eq!(checksum(random), sum);
            let token = format!("{prefix}{random}{sum}");
            let kind = TokenKind::ALL.into_iter().find(|k| k.prefix() == prefix).unwrap();
            assert_eq!(parse(kind, &token).map(hex::encode).as_deref(), Some(sha));
        }
    }

    #[test]
    fn generated_tokens_parse_and_tampered_ones_do_not() {
        let t = SecretToken::generate(TokenKind::Pat);
        assert_eq!(t.expose().len(), "lk_pat_".len() + 38);
        assert_eq!(parse(TokenKind::Pat, t.expose()), Some(t.hash()));
        assert_eq!(parse(TokenKind::AccessToken, t.expose()), None, "wrong prefix");
        let mut tampered = t.expose().to_string().into_bytes();
        let i = 10;
        tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse(TokenKind::Pat, std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(parse(TokenKind::Pat, "lk_pat_short"), None);
        assert_eq!(parse(TokenKind::Pat, &format!("{}!", &t.expose()[..t.expose().len() - 1])), None);
    }

    #[test]
    fn selected_tokens_parse_and_their_selectors_sort_by_time() {
        let (early, early_selector) = SecretToken::generate_with_selector(TokenKind::AccessToken, 1_764_000_000_000);
        let (late, late_selector) = SecretToken::generate_with_selector(TokenKind::AccessToken, 1_764_000_000_001);
        for (token, sel) in [(&early, &early_selector), (&late, &late_selector)] {
            assert_eq!(parse(TokenKind::AccessToken, token.expose()), Some(token.hash()));
            assert_eq!(selector(TokenKind::AccessToken, token.expose()), Some(sel.as_str()));
            assert_eq!(sel.len(), SELECTOR_LEN);
            assert_eq!(token.expose().len(), "lk_at_".len() + RANDOM_LEN + CHECKSUM_LEN);
        }
        assert!(early_selector < late_selector);
        // Same millisecond: the 29 random bits tell them apart.
        let a = SecretToken::generate_with_selector(TokenKind::AccessToken, 5).1;
        let b = SecretToken::generate_with_selector(TokenKind::AccessToken, 5).1;
        assert_ne!(a, b);
        assert_eq!(a[..6], b[..6]);
    }

    #[test]
    fn secrets_never_print() {
        let t = SecretToken::generate(TokenKind::Pat);
        assert!(!format!("{t:?}").contains(&t.expose()[7..]));
        assert!(t.hint().starts_with("lk_pat_") && t.hint().ends_with('…'));
        assert_eq!(t.hint().chars().count(), "lk_pat_".len() + 5);
    }
}

//! Secrets at rest (the API keys of external providers): sealed with XChaCha20-Poly1305 under a
//! key that never enters the database. The key comes from `JURU_SECRET_KEY` (64 hex digits)
//! when set, else from `secret.key` in the data directory, made on first use with mode 0600.
//! Each sealed value is bound to the row it belongs to (associated data), so a ciphertext copied
//! onto another row does not open.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::{DeskError, Result};

/// Sealed values start with this, so that a future scheme can be told apart.
const PREFIX: &str = "xc20p1:";

/// Seals and opens secrets.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// The key from `JURU_SECRET_KEY`, or from `data_dir/secret.key` (created when missing).
    pub fn for_data_dir(data_dir: &Path) -> Result<Sealer> {
        if let Ok(hex_key) = std::env::var("JURU_SECRET_KEY") {
            let key = hex::decode(hex_key.trim())
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| DeskError::invalid("JURU_SECRET_KEY must be 64 hex digits (32 bytes)"))?;
            return Ok(Sealer::new(&key));
        }
        let path = data_dir.join("secret.key");
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(k) => {
                return Err(DeskError::invalid(format!(
                    "{} holds {} bytes; a secret key is 32 bytes",
                    path.display(),
                    k.len()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(e) => return Err(DeskError::invalid(format!("{}: {e}", path.display()))),
        };
        Ok(Sealer::new(&key))
    }

    pub fn new(key: &[u8]) -> Sealer {
        Sealer { cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)) }
    }

    /// Seals `secret` for the row named by `bound_to`.
    pub fn seal(&self, secret: &str, bound_to: &str) -> Result<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret.as_bytes(), aad: bound_to.as_bytes() })
            .map_err(|_| DeskError::invalid("sealing a secret failed"))?;
        Ok(format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(sealed)))
    }

    /// Opens what [`Sealer::seal`] made for the same row.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<String> {
        let broken = || {
            DeskError::invalid(format!(
                "the stored secret of {bound_to} does not open with this key (was secret.key or JURU_SECRET_KEY changed?)"
            ))
        };
        let bytes = sealed.strip_prefix(PREFIX).and_then(|h| hex::decode(h).ok()).ok_or_else(broken)?;
        if bytes.len() < 24 + 16 {
            return Err(broken());
        }
        let (nonce, body) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: bound_to.as_bytes() })
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }
}

/// Writes a new random key, readable by its owner only, without ever replacing one that
/// another process wrote first.
fn create_key(path: &Path) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DeskError::invalid(format!("{}: {e}", dir.display())))?;
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(&key)
                .and_then(|_| f.sync_all())
                .map_err(|e| DeskError::invalid(format!("{}: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(|e| DeskError::invalid(format!("{}: {e}", path.display())))
        }
        Err(e) => Err(DeskError::invalid(format!("{}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_row_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::for_data_dir(dir.path()).unwrap();
        let sealed = s.seal("sk-live-123", "version-a").unwrap();
        assert!(!sealed.contains("sk-live-123"));
        assert_ne!(sealed, s.seal("sk-live-123", "version-a").unwrap(), "a fresh nonce each time");
        assert_eq!(s.open(&sealed, "version-a").unwrap(), "sk-live-123");
        assert!(s.open(&sealed, "version-b").is_err(), "bound to its row");
        // The key file is reused, and is private.
        let again = Sealer::for_data_dir(dir.path()).unwrap();
        assert_eq!(again.open(&sealed, "version-a").unwrap(), "sk-live-123");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another key, or a flipped bit, does not open it.
        assert!(Sealer::new(&[7u8; 32]).open(&sealed, "version-a").is_err());
        let mut flipped = sealed.into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(s.open(&String::from_utf8(flipped).unwrap(), "version-a").is_err());
    }
}

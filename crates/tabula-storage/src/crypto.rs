//! Envelope encryption at rest.
//!
//! Each table has a random 256-bit data key. Item bodies are sealed with AES-256-GCM under it,
//! with the item's storage key as associated data (a body cannot be moved to another key
//! unnoticed). The data key is stored wrapped (AES-256-GCM) by the node's master key, which
//! comes from a file (a Kubernetes Secret in a cluster). Rotating the master key re-wraps the
//! data keys; item bodies are untouched.
//!
//! What stays in the clear: the storage keys themselves (table id, partition-key hash and the
//! order-preserving encodings of key attribute values), because RocksDB must sort them for
//! Query and Scan. The encrypted volume underneath covers them.
//!
//! Envelope layout (persisted): `version (1) | nonce (12) | ciphertext+tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::{Result, StorageError};

const ENVELOPE_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The node's key-encryption key.
pub struct MasterKey {
    cipher: Aes256Gcm,
}

/// A table's data-encryption key.
pub struct DataKey {
    bytes: [u8; 32],
    cipher: Aes256Gcm,
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey {
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }

    /// Generates 32 random bytes suitable for a master key file.
    pub fn generate_bytes() -> [u8; 32] {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        b
    }

    pub(crate) fn wrap(&self, key: &DataKey, table_id: u32) -> Result<Vec<u8>> {
        seal(&self.cipher, &table_id.to_be_bytes(), &key.bytes)
    }

    pub(crate) fn unwrap(&self, wrapped: &[u8], table_id: u32) -> Result<DataKey> {
        let plain = open(&self.cipher, &table_id.to_be_bytes(), wrapped).map_err(|_| {
            StorageError::Crypto(
                "cannot unwrap a table data key: wrong master key for this data directory?".into(),
            )
        })?;
        let bytes: [u8; 32] = plain
            .try_into()
            .map_err(|_| StorageError::Crypto("wrapped data key has the wrong length".into()))?;
        Ok(DataKey::from_bytes(bytes))
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        DataKey::from_bytes(MasterKey::generate_bytes())
    }

    fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey {
            cipher: Aes256Gcm::new((&bytes).into()),
            bytes,
        }
    }

    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        seal(&self.cipher, aad, plain)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        open(&self.cipher, aad, sealed)
    }
}

fn seal(cipher: &Aes256Gcm, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| StorageError::Crypto("seal failed".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    match sealed.first() {
        Some(&ENVELOPE_VERSION) => {}
        other => {
            return Err(StorageError::UnsupportedFormat(format!(
                "encryption envelope version {other:?}"
            )));
        }
    }
    if sealed.len() < 1 + NONCE_LEN {
        return Err(StorageError::Corrupt("short envelope".into()));
    }
    let nonce = Nonce::from_slice(&sealed[1..1 + NONCE_LEN]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[1 + NONCE_LEN..],
                aad,
            },
        )
        .map_err(|_| StorageError::Crypto("authentication failed (tampered or wrong key)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_body_opens_only_under_its_key_and_aad() {
        let k = DataKey::generate();
        let sealed = k.seal(b"key-1", b"secret body").unwrap();
        assert_eq!(k.open(b"key-1", &sealed).unwrap(), b"secret body");
        assert!(k.open(b"key-2", &sealed).is_err());
        assert!(DataKey::generate().open(b"key-1", &sealed).is_err());
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn wrapped_data_key_needs_the_right_master_key() {
        let m = MasterKey::from_bytes(&[7; 32]);
        let k = DataKey::generate();
        let w = m.wrap(&k, 3).unwrap();
        let back = m.unwrap(&w, 3).unwrap();
        assert_eq!(back.bytes, k.bytes);
        assert!(m.unwrap(&w, 4).is_err());
        assert!(MasterKey::from_bytes(&[8; 32]).unwrap(&w, 3).is_err());
    }
}

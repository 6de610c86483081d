//! Authentication of administrative requests to a table's data plane (`POST
//! /tabula/members`, which changes the replica group): they carry an HMAC under a key derived
//! from the table's master key, which only the table's pods and the operator that manages its
//! Secret hold. A client of the DynamoDB API, signed or not, cannot change the group.
//!
//! The request carries `x-tabula-admin-date` (seconds since the epoch) and
//! `x-tabula-admin-signature`: hex HMAC-SHA256 over `"<path>\n<date>\n" + body`. A date more
//! than five minutes off is refused, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const DATE_HEADER: &str = "x-tabula-admin-date";
pub const SIGNATURE_HEADER: &str = "x-tabula-admin-signature";
/// How far a request's date may be from the receiver's clock.
pub const MAX_SKEW_SECS: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// A master key as a key file or Secret holds it: 32 raw bytes, 64 hex characters, or base64
/// of 32 bytes (surrounding whitespace ignored).
pub fn decode_master_key(raw: &[u8]) -> Option<[u8; 32]> {
    use base64::Engine as _;
    if let Some(t) = std::str::from_utf8(raw).ok().map(str::trim) {
        if let Ok(b) = hex::decode(t)
            && let Ok(k) = b.try_into()
        {
            return Some(k);
        }
        if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(t)
            && let Ok(k) = b.try_into()
        {
            return Some(k);
        }
    }
    raw.try_into().ok()
}

/// The administrative key of a table: HMAC-SHA256 of a fixed label under its master key (the
/// master key itself never signs anything).
pub fn admin_key(master: &[u8; 32]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(b"tabula administrative requests v1");
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8; 32], path: &str, date: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(date.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac
}

/// The clock requests are dated and checked by: seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The signature header's value for a request to `path` with `body` at `date`.
pub fn sign(key: &[u8; 32], path: &str, date: u64, body: &[u8]) -> String {
    hex::encode(mac(key, path, date, body).finalize().into_bytes())
}

/// Checks a request's date and signature headers (`now`: seconds since the epoch).
pub fn verify(
    key: &[u8; 32],
    path: &str,
    date: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), &'static str> {
    let (Some(date), Some(signature)) = (date, signature) else {
        return Err("administrative requests must be signed with the table's admin key");
    };
    let date: u64 = date
        .trim()
        .parse()
        .map_err(|_| "bad administrative request date")?;
    if date.abs_diff(now) > MAX_SKEW_SECS {
        return Err("the administrative request's date is too far from the server's clock");
    }
    let given = hex::decode(signature.trim()).map_err(|_| "bad administrative signature")?;
    mac(key, path, date, body)
        .verify_slice(&given)
        .map_err(|_| "the administrative signature does not match")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_keys_decode_in_every_accepted_form() {
        let key = [7u8; 32];
        assert_eq!(decode_master_key(&key), Some(key));
        assert_eq!(decode_master_key(hex::encode(key).as_bytes()), Some(key));
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(key)
        };
        assert_eq!(decode_master_key(format!("{b64}\n").as_bytes()), Some(key));
        assert_eq!(decode_master_key(b"short"), None);
    }

    #[test]
    fn only_the_right_key_body_path_and_a_recent_date_verify() {
        let key = admin_key(&[1; 32]);
        let other = admin_key(&[2; 32]);
        assert_ne!(key, [1; 32], "derived, not the master key itself");
        let sig = sign(&key, "/tabula/members", 1000, b"{}");
        let check = |k: &[u8; 32], path, date: &str, sig: &str, body: &[u8], now| {
            verify(k, path, Some(date), Some(sig), body, now)
        };
        assert_eq!(
            check(&key, "/tabula/members", "1000", &sig, b"{}", 1100),
            Ok(())
        );
        assert!(check(&other, "/tabula/members", "1000", &sig, b"{}", 1100).is_err());
        assert!(check(&key, "/tabula/members", "1000", &sig, b"{ }", 1100).is_err());
        assert!(check(&key, "/other", "1000", &sig, b"{}", 1100).is_err());
        assert!(check(&key, "/tabula/members", "1001", &sig, b"{}", 1100).is_err());
        assert!(check(&key, "/tabula/members", "1000", &sig, b"{}", 1400).is_err());
        assert!(verify(&key, "/tabula/members", None, Some(&sig), b"{}", 1000).is_err());
    }
}

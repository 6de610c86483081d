//! Request authentication: AWS Signature Version 4, as DynamoDB checks it.
//!
//! With a credentials file every request must carry a valid signature by a listed access key,
//! dated within 15 minutes of the server clock. Without one (local mode, like DynamoDB Local)
//! the request must still carry a well-formed SigV4 `Authorization` header, but any key and any
//! signature are accepted.

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorKind};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's date may be from the server's clock.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// Access key id → secret access key.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    keys: HashMap<String, String>,
    /// Derived signing keys: deriving one costs four HMACs, and a key signs every request of
    /// its day.
    signing_keys: std::sync::Arc<std::sync::RwLock<SigningKeys>>,
}

/// Signing keys by access key, then scope (date, region, service), each kept as the HMAC
/// already keyed with it: a request's signature then costs only the HMAC of its string to
/// sign, and looking a key up allocates nothing.
#[derive(Default)]
struct SigningKeys {
    by_access_key: HashMap<String, Vec<ScopedKey>>,
}

impl SigningKeys {
    fn len(&self) -> usize {
        self.by_access_key.values().map(Vec::len).sum()
    }
}

struct ScopedKey {
    date: String,
    region: String,
    service: String,
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeys({} cached)", self.len())
    }
}

/// Cached signing keys kept at most (one per access key, day, region and service in use).
const MAX_CACHED_SIGNING_KEYS: usize = 1024;

impl Credentials {
    /// Reads a credentials file: one `ACCESS_KEY_ID SECRET_ACCESS_KEY` pair per line
    /// (whitespace, `:` or `,` separated); blank lines and `#` comments are ignored.
    pub fn load(path: &Path) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        Credentials::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut keys = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line
                .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
                .filter(|p| !p.is_empty());
            match (parts.next(), parts.next(), parts.next()) {
                (Some(id), Some(secret), None) => {
                    keys.insert(id.to_string(), secret.to_string());
                }
                _ => {
                    return Err(format!(
                        "credentials file line {}: expected `ACCESS_KEY_ID SECRET_ACCESS_KEY`",
                        i + 1
                    ));
                }
            }
        }
        if keys.is_empty() {
            return Err("credentials file lists no keys".into());
        }
        Ok(Credentials {
            keys,
            ..Credentials::default()
        })
    }

    pub fn insert(&mut self, id: &str, secret: &str) {
        self.keys.insert(id.to_string(), secret.to_string());
        *self.signing_keys.write().unwrap_or_else(|p| p.into_inner()) = SigningKeys::default();
    }

    /// The HMAC keyed with the signing key of `access_key` for this scope.
    fn signing_mac(
        &self,
        access_key: &str,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> Hmac<Sha256> {
        let matches = |k: &&ScopedKey| k.date == date && k.region == region && k.service == service;
        {
            let cache = self.signing_keys.read().unwrap_or_else(|p| p.into_inner());
            if let Some(k) = cache
                .by_access_key
                .get(access_key)
                .and_then(|keys| keys.iter().find(matches))
            {
                return k.mac.clone();
            }
        }
        let mac = keyed_mac(&signing_key(secret, date, region, service));
        let mut cache = self.signing_keys.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_SIGNING_KEYS {
            *cache = SigningKeys::default();
        }
        cache
            .by_access_key
            .entry(access_key.to_string())
            .or_default()
            .push(ScopedKey {
                date: date.to_string(),
                region: region.to_string(),
                service: service.to_string(),
                mac: mac.clone(),
            });
        mac
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug)]
struct AuthHeader<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_auth_header(value: &str) -> Result<AuthHeader<'_>, ApiError> {
    let incomplete = |m: &str| ApiError::new(ErrorKind::IncompleteSignature, m);
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        incomplete(&format!(
            "Unsupported AWS 'algorithm': '{}'",
            value.split_whitespace().next().unwrap_or("")
        ))
    })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signed.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if !missing.is_empty() {
        return Err(incomplete(&format!(
            "{} Authorization={value}",
            missing.join(" ")
        )));
    }
    let credential = credential.unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err(incomplete(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.get(2).copied().unwrap_or("")
        )));
    }
    Ok(AuthHeader {
        access_key: scope[0],
        date: scope[1],
        region: scope[2],
        service: scope[3],
        signed_headers: signed.unwrap_or_default().split(';').collect(),
        signature: signature.unwrap_or_default(),
    })
}

/// Verifies a request. Returns the access key id that signed it.
pub fn verify(
    credentials: Option<&Credentials>,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<String, ApiError> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::new(
            ErrorKind::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        ));
    };
    let parsed = parse_auth_header(auth)?;
    let Some(credentials) = credentials else {
        return Ok(parsed.access_key.to_string());
    };
    let Some(secret) = credentials.keys.get(parsed.access_key) else {
        return Err(ApiError::new(
            ErrorKind::UnrecognizedClient,
            "The security token included in the request is invalid.",
        ));
    };
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::IncompleteSignature,
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        })?;
    let request_time = parse_amz_date(amz_date).ok_or_else(|| {
        ApiError::new(
            ErrorKind::IncompleteSignature,
            format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'."),
        )
    })?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (request_time - now_secs).abs() > MAX_SKEW_SECS {
        let now_s = format_amz_date(now_secs);
        let limit = if request_time < now_secs {
            format!("{} - 15 min.", now_s)
        } else {
            format!("{} + 15 min.", now_s)
        };
        return Err(ApiError::new(
            ErrorKind::InvalidSignature,
            format!(
                "Signature expired: {amz_date} is now {} than {} ({limit})",
                if request_time < now_secs {
                    "earlier"
                } else {
                    "later"
                },
                format_amz_date(if request_time < now_secs {
                    now_secs - MAX_SKEW_SECS
                } else {
                    now_secs + MAX_SKEW_SECS
                })
            ),
        ));
    }
    if !amz_date.starts_with(parsed.date) {
        return Err(ApiError::new(
            ErrorKind::InvalidSignature,
            format!(
                "Credential should be scoped to a valid date: '{}' does not match the request date.",
                parsed.date
            ),
        ));
    }

    // The canonical request is hashed as it is produced, and the string to sign is fed to the
    // keyed HMAC the same way: this runs for every request, so nothing is copied.
    let mut signed = parsed.signed_headers.clone();
    signed.sort_unstable();
    let mut canonical = Sha256::new();
    for part in [
        method,
        "\n",
        &canonical_uri(path),
        "\n",
        &canonical_query(query),
        "\n",
    ] {
        canonical.update(part.as_bytes());
    }
    for name in &signed {
        canonical.update(name.as_bytes());
        canonical.update(b":");
        for (i, v) in headers.get_all(*name).iter().enumerate() {
            if i > 0 {
                canonical.update(b",");
            }
            match v.to_str() {
                Ok(text) => hash_collapsed(&mut canonical, text),
                Err(_) => hash_collapsed(&mut canonical, &String::from_utf8_lossy(v.as_bytes())),
            }
        }
        canonical.update(b"\n");
    }
    canonical.update(b"\n");
    for (i, name) in signed.iter().enumerate() {
        if i > 0 {
            canonical.update(b";");
        }
        canonical.update(name.as_bytes());
    }
    canonical.update(b"\n");
    // Always the hash of the body received: a client's `x-amz-content-sha256` is a claim
    // about the body, and signing the claim instead would let a body be swapped in transit.
    canonical.update(hex32(&Sha256::digest(body).into()));
    let mut mac = credentials.signing_mac(
        parsed.access_key,
        secret,
        parsed.date,
        parsed.region,
        parsed.service,
    );
    for part in [
        ALGORITHM,
        "\n",
        amz_date,
        "\n",
        parsed.date,
        "/",
        parsed.region,
        "/",
        parsed.service,
        "/aws4_request\n",
    ] {
        mac.update(part.as_bytes());
    }
    mac.update(&hex32(&canonical.finalize().into()));
    let expected = hex32(&mac.finalize().into_bytes().into());
    if !constant_time_eq(&expected, parsed.signature.as_bytes()) {
        return Err(ApiError::new(
            ErrorKind::InvalidSignature,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(parsed.access_key.to_string())
}

/// Computes the `Authorization` header a SigV4 client sends for a DynamoDB JSON request signed
/// over `host`, `x-amz-date` and `x-amz-target`. Used by the benchmark client and by tests.
pub fn sign_request(
    access_key: &str,
    secret: &str,
    region: &str,
    amz_date: &str,
    host: &str,
    target: &str,
    body: &[u8],
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let canonical = format!(
        "POST\n/\n\nhost:{host}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n\nhost;x-amz-date;x-amz-target\n{}",
        hex::encode(Sha256::digest(body))
    );
    let scope = format!("{date}/{region}/dynamodb/aws4_request");
    let sts = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let sig = hex::encode(hmac(
        &signing_key(secret, date, region, "dynamodb"),
        sts.as_bytes(),
    ));
    format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders=host;x-amz-date;x-amz-target, Signature={sig}"
    )
}

/// The current time in SigV4's `YYYYMMDDTHHMMSSZ` form.
pub fn amz_date_now() -> String {
    format_amz_date(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a header value as SigV4 canonicalises it: trimmed, inner runs of spaces collapsed.
fn hash_collapsed(hash: &mut Sha256, v: &str) {
    let t = v.trim();
    if !t.contains("  ") && !t.chars().any(|c| c.is_whitespace() && c != ' ') {
        hash.update(t.as_bytes());
        return;
    }
    for (i, word) in t.split_whitespace().enumerate() {
        if i > 0 {
            hash.update(b" ");
        }
        hash.update(word.as_bytes());
    }
}

/// Lower-case hex of a SHA-256 digest, on the stack.
fn hex32(digest: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // Sixty-four bytes hold the hex of thirty-two: this cannot fail.
    let _ = hex::encode_to_slice(digest, &mut out);
    out
}

fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|c| char::from(*c).to_digit(16)),
                bytes.get(i + 2).and_then(|c| char::from(*c).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_uri(path: &str) -> std::borrow::Cow<'_, str> {
    if path.is_empty() {
        return "/".into();
    }
    // A path of unreserved characters and slashes (DynamoDB's is `/`) is its own encoding.
    if path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/'))
    {
        return path.into();
    }
    uri_encode(&percent_decode(path), true).into()
}

fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = keyed_mac(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn keyed_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail, and `<Hmac as
    // KeyInit>::new` would need a fixed-size key.
    Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Parses `YYYYMMDDTHHMMSSZ` into seconds since the epoch.
fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se)
}

fn format_amz_date(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn sign(secret: &str, amz_date: &str, body: &[u8]) -> HeaderMap {
        let target = "DynamoDB_20120810.ListTables";
        let auth = sign_request(
            "AKID",
            secret,
            "us-east-1",
            amz_date,
            "localhost:8000",
            target,
            body,
        );
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost:8000"));
        h.insert("x-amz-date", HeaderValue::from_str(amz_date).unwrap());
        h.insert("x-amz-target", HeaderValue::from_static(target));
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        h
    }

    fn at(s: &str) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(parse_amz_date(s).unwrap() as u64)
    }

    /// AWS's published SigV4 example (`get-vanilla` of the signature test suite): a signature
    /// computed by AWS, not by this module's own signer.
    #[test]
    fn the_aws_signature_test_vector_verifies() {
        let creds =
            Credentials::parse("AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap();
        let signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let headers = |sig: &str| {
            let mut h = HeaderMap::new();
            h.insert("host", HeaderValue::from_static("example.amazonaws.com"));
            h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
            );
            h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
            h
        };
        let now = at("20150830T123600Z");
        let ok = verify(Some(&creds), "GET", "/", "", &headers(signature), b"", now);
        assert_eq!(ok.unwrap(), "AKIDEXAMPLE");
        // Twice: the second check runs on the cached signing key.
        let again = verify(Some(&creds), "GET", "/", "", &headers(signature), b"", now);
        assert_eq!(again.unwrap(), "AKIDEXAMPLE");
        let flipped = signature.replace("5fa0", "5fa1");
        let err = verify(Some(&creds), "GET", "/", "", &headers(&flipped), b"", now);
        assert_eq!(err.unwrap_err().kind, ErrorKind::InvalidSignature);
    }

    /// A body swapped in transit is refused even when the request carries the hash of the
    /// original body in `x-amz-content-sha256`.
    #[test]
    fn a_claimed_payload_hash_does_not_cover_another_body() {
        let creds = Credentials::parse("AKID secret123\n").unwrap();
        let mut h = sign("secret123", "20261125T120000Z", b"{}");
        let claimed = hex::encode(Sha256::digest(b"{}"));
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&claimed).unwrap(),
        );
        let now = at("20261125T120000Z");
        assert!(verify(Some(&creds), "POST", "/", "", &h, b"{}", now).is_ok());
        let err = verify(Some(&creds), "POST", "/", "", &h, b"{\"x\":1}", now).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
    }

    #[test]
    fn valid_signature_is_accepted_and_tampering_is_not() {
        let creds = Credentials::parse("AKID secret123\n").unwrap();
        let h = sign("secret123", "20261125T120000Z", b"{}");
        let now = at("20261125T120500Z");
        assert_eq!(
            verify(Some(&creds), "POST", "/", "", &h, b"{}", now).unwrap(),
            "AKID"
        );
        let err = verify(Some(&creds), "POST", "/", "", &h, b"{ }", now).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        let wrong = sign("other", "20261125T120000Z", b"{}");
        assert_eq!(
            verify(Some(&creds), "POST", "/", "", &wrong, b"{}", now)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidSignature
        );
    }

    #[test]
    fn stale_dates_unknown_keys_and_missing_headers_are_refused() {
        let creds = Credentials::parse("OTHER x").unwrap();
        let h = sign("secret123", "20261125T120000Z", b"{}");
        let now = at("20261125T120000Z");
        assert_eq!(
            verify(Some(&creds), "POST", "/", "", &h, b"{}", now)
                .unwrap_err()
                .kind,
            ErrorKind::UnrecognizedClient
        );
        let creds = Credentials::parse("AKID secret123").unwrap();
        let err = verify(
            Some(&creds),
            "POST",
            "/",
            "",
            &h,
            b"{}",
            at("20261125T123000Z"),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        assert!(
            err.message.starts_with("Signature expired"),
            "{}",
            err.message
        );
        assert_eq!(
            verify(None, "POST", "/", "", &HeaderMap::new(), b"", now)
                .unwrap_err()
                .kind,
            ErrorKind::MissingAuthenticationToken
        );
        // Local mode: any key, any signature.
        assert!(verify(None, "POST", "/", "", &h, b"changed", now).is_ok());
    }

    #[test]
    fn amz_dates_round_trip() {
        for s in ["19700101T000000Z", "20000229T235959Z", "20261125T120000Z"] {
            assert_eq!(format_amz_date(parse_amz_date(s).unwrap()), s);
        }
        assert!(parse_amz_date("2026-11-25T12:00:00Z").is_none());
    }
}

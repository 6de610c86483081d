//! The per-table replication certificates: a CA of the table's own and one certificate it
//! signs, which every replica presents to its peers as server and as client (mutual TLS on
//! the internal port). Generated once per table into the Secret `<table>-replication-tls`
//! (`builders::replication_tls_secret`); the replicas check peers against the headless
//! Service's name, which the certificate carries (with a wildcard for each pod's name).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::builders::{Settings, replication_server_name};
use crate::crd::Table;

/// PEM material of the replication Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// How many years the generated certificates are valid (they are not rotated yet).
const VALID_YEARS: i32 = 10;

/// Generates a fresh CA and replica certificate for `table`.
pub fn replication_tls(table: &Table, settings: &Settings) -> Result<ReplicationTls, String> {
    let err = |e: rcgen::Error| format!("cannot generate the replication certificates: {e}");
    let ns = table.metadata.namespace.clone().unwrap_or_default();
    let name = table.metadata.name.clone().unwrap_or_default();
    // From the start of this year (clocks that lag behind the operator's still accept them).
    let year = i32::from(
        k8s_openapi::jiff::Timestamp::now()
            .to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
            .year(),
    );
    let now = rcgen::date_time_ymd(year, 1, 1);
    let until = rcgen::date_time_ymd(year + VALID_YEARS, 1, 1);

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("tabula {ns}/{name} replication CA"),
    );
    ca.not_before = now;
    ca.not_after = until;
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

    let server = replication_server_name(table, settings);
    let key = KeyPair::generate().map_err(err)?;
    let mut leaf =
        CertificateParams::new(vec![server.clone(), format!("*.{server}")]).map_err(err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("tabula {ns}/{name} replica"));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    leaf.not_before = now;
    leaf.not_after = until;
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(err)?;
    Ok(ReplicationTls {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

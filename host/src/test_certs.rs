//! Certificates for tests: a certificate authority and what it issues for 127.0.0.1.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

/// A certificate and its key.
pub struct Issued {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

impl Issued {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().expect("pem")
    }

    /// The key as PKCS#8 PEM.
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().expect("pem")
    }
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
    PKey::from_ec_key(EcKey::generate(&group).expect("ec key")).expect("key")
}

fn builder(common_name: &str, serial: u32, key: &PKey<Private>) -> X509Builder {
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", common_name).expect("cn");
    let mut builder = X509Builder::new().expect("builder");
    builder.set_version(2).expect("version");
    let serial = BigNum::from_u32(serial)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    builder.set_serial_number(&serial).expect("serial");
    builder.set_subject_name(&name.build()).expect("subject");
    builder.set_pubkey(key).expect("public key");
    let not_before = Asn1Time::days_from_now(0).expect("time");
    let not_after = Asn1Time::days_from_now(2).expect("time");
    builder.set_not_before(&not_before).expect("not before");
    builder.set_not_after(&not_after).expect("not after");
    builder
}

/// A certificate authority.
pub struct Authority(Issued);

impl Authority {
    /// A new self-signed authority named `common_name`.
    pub fn new(common_name: &str) -> Self {
        let key = key();
        let mut builder = builder(common_name, 1, &key);
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", common_name).expect("cn");
        builder.set_issuer_name(&name.build()).expect("issuer");
        let constraints = BasicConstraints::new().critical().ca().build();
        let usage = KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build();
        for extension in [constraints, usage] {
            builder
                .append_extension(extension.expect("extension"))
                .expect("extension");
        }
        builder.sign(&key, MessageDigest::sha256()).expect("signed");
        Self(Issued {
            cert: builder.build(),
            key,
        })
    }

    /// Its certificate as PEM (the file a client or server trusts).
    pub fn cert_pem(&self) -> Vec<u8> {
        self.0.cert_pem()
    }

    /// Its certificate.
    pub fn cert(&self) -> &X509 {
        &self.0.cert
    }

    /// A certificate for 127.0.0.1 signed by this authority, for a server and a client.
    pub fn issue(&self, common_name: &str, serial: u32) -> Issued {
        let key = key();
        let mut builder = builder(common_name, serial, &key);
        builder
            .set_issuer_name(self.0.cert.subject_name())
            .expect("issuer");
        let context = builder.x509v3_context(Some(&self.0.cert), None);
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .dns("localhost")
            .build(&context)
            .expect("san");
        let usage = ExtendedKeyUsage::new()
            .server_auth()
            .client_auth()
            .build()
            .expect("usage");
        let key_usage = KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .expect("key usage");
        for extension in [san, usage, key_usage] {
            builder.append_extension(extension).expect("extension");
        }
        builder
            .sign(&self.0.key, MessageDigest::sha256())
            .expect("signed");
        Issued {
            cert: builder.build(),
            key,
        }
    }
}

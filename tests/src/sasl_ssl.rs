//! What a `SASL_SSL` listener of the test broker needs: a certificate authority and a broker
//! certificate it signed (for 127.0.0.1), made with the JDK's `keytool`, and the SCRAM user
//! clients log in as. `tests/kafka/sasl_ssl.properties` holds the broker's settings.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The SCRAM-SHA-512 user the broker knows.
pub const USER: &str = "eddy";

/// Its password (a test secret: it must never show in Eddy's output).
pub const PASSWORD: &str = "scram-secret-4f1c9a";

/// The password of the broker's keystore.
const STORE_PASSWORD: &str = "keystore-pass";

/// The files of a broker's TLS identity.
pub struct Identity {
    /// PKCS#12 keystore: the broker's key and its certificate chain.
    pub keystore: PathBuf,
    /// PEM certificate of the CA that signed it: what clients trust (`ssl.ca.location`).
    pub ca: PathBuf,
    /// The keystore's password.
    pub password: &'static str,
}

fn keytool(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("keytool")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running keytool (the JDK's; Java 17 is needed: scripts/setup.sh)");
    assert!(
        output.status.success(),
        "keytool {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Makes a CA and a broker certificate for 127.0.0.1 it signed, in `dir`.
pub fn identity(dir: &Path) -> Identity {
    let pass = STORE_PASSWORD;
    let common = ["-storetype", "PKCS12", "-storepass", pass];
    let key = ["-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2"];
    let run = |args: &[&str]| keytool(dir, &[args, &common[..]].concat());
    // The CA.
    run(&[
        &[
            "-genkeypair",
            "-alias",
            "ca",
            "-dname",
            "CN=eddy test CA",
            "-ext",
            "bc:c",
            "-keystore",
            "ca.p12",
        ][..],
        &key[..],
    ]
    .concat());
    run(&[
        "-exportcert",
        "-rfc",
        "-alias",
        "ca",
        "-keystore",
        "ca.p12",
        "-file",
        "ca.pem",
    ]);
    // The broker's key, its certificate signed by the CA, and the chain in its keystore.
    run(&[
        &[
            "-genkeypair",
            "-alias",
            "broker",
            "-dname",
            "CN=eddy test broker",
            "-keystore",
            "broker.p12",
        ][..],
        &key[..],
    ]
    .concat());
    run(&[
        "-certreq",
        "-alias",
        "broker",
        "-keystore",
        "broker.p12",
        "-file",
        "broker.csr",
    ]);
    run(&[
        "-gencert",
        "-alias",
        "ca",
        "-keystore",
        "ca.p12",
        "-infile",
        "broker.csr",
        "-outfile",
        "broker.pem",
        "-rfc",
        "-validity",
        "2",
        "-ext",
        "SAN=IP:127.0.0.1,DNS:localhost",
        "-ext",
        "EKU=serverAuth",
    ]);
    run(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "ca",
        "-keystore",
        "broker.p12",
        "-file",
        "ca.pem",
    ]);
    run(&[
        "-importcert",
        "-alias",
        "broker",
        "-keystore",
        "broker.p12",
        "-file",
        "broker.pem",
    ]);
    Identity {
        keystore: dir.join("broker.p12"),
        ca: dir.join("ca.pem"),
        password: STORE_PASSWORD,
    }
}

/// The `StorageTool format` argument that creates [`USER`].
pub fn scram_user() -> String {
    format!("SCRAM-SHA-512=[name={USER},password={PASSWORD}]")
}

/// `kafka.properties` (as YAML lines under `kafka:`) of a client of the listener: SCRAM over
/// TLS, trusting `ca`.
pub fn client_properties(ca: &Path) -> String {
    format!(
        "  properties:\n    security.protocol: SASL_SSL\n    sasl.mechanisms: SCRAM-SHA-512\n    sasl.username: {USER}\n    sasl.password: {PASSWORD}\n    ssl.ca.location: {}\n",
        ca.display()
    )
}

//! TLS as the connection string asks, libpq's way: `sslmode=disable` plain; `prefer` (the
//! default) TLS when the server offers it, unverified; `require` TLS, unverified;
//! `verify-ca` TLS with the server's certificate checked against `sslrootcert` (else the
//! system's roots); `verify-full` also its host name. OpenSSL through `postgres-openssl`.
//! The connection is named `eddy` (`application_name`) unless the string names it.

use std::path::PathBuf;

use eddy_engine::config::SecretUrl;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres::Client;
use postgres::config::SslMode;
use postgres_openssl::MakeTlsConnector;

/// What the connection string asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The connection string without the TLS options the client library does not know
/// (`sslmode` values `verify-ca`/`verify-full`, `sslrootcert`), and what they asked.
fn split(url: &str) -> Result<(String, Mode, Option<PathBuf>), String> {
    let mut mode = Mode::Prefer;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => {
                mode = match value {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if let Some((head, query)) = url.split_once('?')
        && url.contains("://")
    {
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key, value)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", kept.join("&"))
        }
    } else if url.contains("://") {
        url.to_string()
    } else {
        // Key-value pairs (values of these two keys are not quoted).
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key, value)? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

/// A connection string without a password takes libpq's `PGPASSWORD` from the environment, so
/// the password need not be written in the configuration (a Kubernetes secret as an
/// environment variable, for instance).
fn password_from_env(config: &mut postgres::Config, password: Option<String>) {
    if config.get_password().is_none()
        && let Some(password) = password.filter(|p| !p.is_empty())
    {
        config.password(password);
    }
}

/// Connects as `url` says, TLS included; the error names what failed (never the password).
pub fn connect(url: &SecretUrl) -> Result<Client, String> {
    let (rest, mode, root) = split(url.expose())?;
    let mut config: postgres::Config = rest
        .parse()
        .map_err(|e: postgres::Error| format!("the connection string: {e}"))?;
    if config.get_application_name().is_none() {
        config.application_name("eddy");
    }
    password_from_env(&mut config, std::env::var("PGPASSWORD").ok());
    let connected = if mode == Mode::Disable {
        config.ssl_mode(SslMode::Disable);
        config.connect(postgres::NoTls)
    } else {
        config.ssl_mode(if mode == Mode::Prefer {
            SslMode::Prefer
        } else {
            SslMode::Require
        });
        let mut builder =
            SslConnector::builder(SslMethod::tls()).map_err(|e| format!("setting up TLS: {e}"))?;
        if matches!(mode, Mode::VerifyCa | Mode::VerifyFull) {
            match &root {
                Some(file) => builder
                    .set_ca_file(file)
                    .map_err(|e| format!("reading sslrootcert {}: {e}", file.display()))?,
                None => builder
                    .set_default_verify_paths()
                    .map_err(|e| format!("loading the system's root certificates: {e}"))?,
            }
            builder.set_verify(SslVerifyMode::PEER);
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        if mode != Mode::VerifyFull {
            connector.set_callback(|connect, _| {
                connect.set_verify_hostname(false);
                Ok(())
            });
        }
        config.connect(connector)
    };
    connected.map_err(|error| super::describe(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_urls_and_key_value_strings() {
        let (rest, mode, root) = split(
            "postgresql://u:p@h:5/db?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3",
        )
        .expect("parsed");
        assert_eq!(rest, "postgresql://u:p@h:5/db?connect_timeout=3");
        assert_eq!(mode, Mode::VerifyFull);
        assert_eq!(root, Some(PathBuf::from("/ca.pem")));
        let (rest, mode, _) = split("postgresql://h/db?sslmode=require").expect("parsed");
        assert_eq!((rest.as_str(), mode), ("postgresql://h/db", Mode::Require));
        let (rest, mode, _) = split("host=h sslmode=verify-ca user=u").expect("parsed");
        assert_eq!((rest.as_str(), mode), ("host=h user=u", Mode::VerifyCa));
        assert_eq!(split("postgresql://h/db").expect("parsed").1, Mode::Prefer);
        assert!(split("postgresql://h/db?sslmode=sometimes").is_err());
    }
}

#[cfg(test)]
mod password_tests {
    use super::password_from_env;

    #[test]
    fn pgpassword_fills_in_a_missing_password_only() {
        let mut config: postgres::Config = "host=db user=eddy".parse().expect("config");
        password_from_env(&mut config, Some("from-env".into()));
        assert_eq!(config.get_password(), Some(&b"from-env"[..]));
        let mut config: postgres::Config = "postgresql://eddy:inline@db/metrics"
            .parse()
            .expect("config");
        password_from_env(&mut config, Some("from-env".into()));
        assert_eq!(config.get_password(), Some(&b"inline"[..]));
        let mut config: postgres::Config = "host=db user=eddy".parse().expect("config");
        password_from_env(&mut config, Some(String::new()));
        assert_eq!(config.get_password(), None);
    }
}

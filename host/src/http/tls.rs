//! HTTPS for the endpoint: the server's certificate chain and key, and for mutual TLS the
//! authorities client certificates must be signed by, read from PEM files (`http.tls.*`) and
//! read again when one of them changes or the process gets SIGHUP. A file that does not read
//! at start refuses the start naming its key; one that does not read later is logged and the
//! certificate in use kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use eddy_engine::config::TlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// How often the files are looked at for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or holds no usable PEM item.
    #[error("{key} `{}`: {reason}", path.display())]
    File {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate, key and authorities do not make a server configuration (e.g. the key
    /// is not the certificate's).
    #[error("http.tls: {0}")]
    Config(String),
}

fn file_error(key: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        key,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(key, path, e))?
        .collect();
    let certificates = read.map_err(|e| file_error(key, path, e))?;
    if certificates.is_empty() {
        return Err(file_error(key, path, "no PEM certificate in it"));
    }
    Ok(certificates)
}

/// The rustls server configuration `tls` describes, with HTTP/2 and HTTP/1.1 offered.
pub fn server_config(tls: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let chain = certificates("http.tls.cert", &tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| file_error("http.tls.key", &tls.key, e))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates("http.tls.client_ca", path)? {
                roots
                    .add(certificate)
                    .map_err(|e| file_error("http.tls.client_ca", path, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider())
                .build()
                .map_err(|e| file_error("http.tls.client_ca", path, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The configuration the server uses, and the files it came from.
#[derive(Clone)]
pub struct Certificates {
    settings: TlsConfig,
    current: RustlsConfig,
}

impl Certificates {
    /// Reads the files of `settings`.
    pub fn load(settings: &TlsConfig) -> Result<Self, TlsError> {
        let config = server_config(settings)?;
        Ok(Self {
            settings: settings.clone(),
            current: RustlsConfig::from_config(Arc::new(config)),
        })
    }

    /// What the acceptor hands each new connection (replaced in place on a reload).
    pub fn rustls(&self) -> RustlsConfig {
        self.current.clone()
    }

    /// When and how large each file is: a change in any means read them again.
    fn stamp(&self) -> Vec<Option<(SystemTime, u64)>> {
        let files = [Some(&self.settings.cert), Some(&self.settings.key)]
            .into_iter()
            .chain([self.settings.client_ca.as_ref()]);
        files
            .flatten()
            .map(|path| {
                let meta = std::fs::metadata(path).ok()?;
                Some((meta.modified().ok()?, meta.len()))
            })
            .collect()
    }

    /// Reads the files again; on success new connections use them, on failure the current
    /// certificate stays and the reason is logged.
    pub fn reload(&self) -> Result<(), TlsError> {
        match server_config(&self.settings) {
            Ok(config) => {
                self.current.reload_from_config(Arc::new(config));
                tracing::info!("http.tls: certificate read again");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "http.tls: the new files do not read; the certificate in use stays");
                Err(error)
            }
        }
    }

    /// Reloads whenever a file changes or SIGHUP arrives; runs until the runtime stops.
    pub async fn watch(self) {
        let mut hangups =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut stamp = self.stamp();
        let mut ticks = tokio::time::interval(WATCH_EVERY);
        loop {
            let hangup = async {
                match hangups.as_mut() {
                    Some(signals) => signals.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ticks.tick() => {
                    let now = self.stamp();
                    if now == stamp {
                        continue;
                    }
                    stamp = now;
                }
                _ = hangup => {}
            }
            let _ = self.reload();
        }
    }
}

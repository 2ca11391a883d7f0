//! RFC 5424 messages to a SIEM over TCP or TLS (RFC 5425), framed by octet counting
//! (RFC 6587), the body being the audit JSON or CEF.
//!
//! Syslog has no application-level acknowledgement: an audit counts as delivered once its frame
//! is written and flushed to the connection. A write error drops the connection; the next
//! attempt reconnects.

mod config;
pub mod format;

pub use config::{BodyFormat, SyslogConfig};

use std::pin::Pin;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use schema::v1::AuditEvent;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use super::{AttemptFailure, AttemptOutcome};
use crate::{Error, Result};

type Connection = Pin<Box<dyn AsyncWrite + Send>>;

pub struct SyslogSink {
    config: SyslogConfig,
    header: format::Header,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    // One connection, one writer at a time: frames never interleave.
    connection: Mutex<Option<Connection>>,
}

impl SyslogSink {
    pub fn new(config: &SyslogConfig) -> Result<Self> {
        let tls = if config.tls {
            Some(tls_connector(config)?)
        } else {
            None
        };
        let hostname = config
            .hostname
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let header = format::Header {
            facility: config.facility,
            severity: config.severity,
            hostname,
            app_name: config.app_name.clone(),
        };
        Ok(SyslogSink {
            config: config.clone(),
            header,
            tls,
            connection: Mutex::new(None),
        })
    }

    pub async fn deliver(&self, audit: &AuditEvent, body: &[u8]) -> AttemptOutcome {
        let frame = format::frame(&format::message(
            &self.header,
            audit,
            body,
            self.config.format,
        ));
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            match self.connect().await {
                Ok(c) => *slot = Some(c),
                Err(e) => return AttemptOutcome::Failed(AttemptFailure::transient(e)),
            }
        }
        let Some(conn) = slot.as_mut() else {
            return AttemptOutcome::Failed(AttemptFailure::transient("no syslog connection"));
        };
        let written = tokio::time::timeout(self.config.write_timeout, async {
            conn.write_all(&frame).await?;
            conn.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => AttemptOutcome::Delivered { status: 0 },
            Ok(Err(e)) => {
                *slot = None;
                AttemptOutcome::Failed(AttemptFailure::transient(format!(
                    "writing to {}: {e}",
                    self.config.address
                )))
            }
            Err(_) => {
                *slot = None;
                AttemptOutcome::Failed(AttemptFailure::transient(format!(
                    "writing to {} timed out",
                    self.config.address
                )))
            }
        }
    }

    async fn connect(&self) -> std::result::Result<Connection, String> {
        let address = &self.config.address;
        let tcp = tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(address))
            .await
            .map_err(|_| format!("connecting to {address} timed out"))?
            .map_err(|e| format!("connecting to {address}: {e}"))?;
        // Audits are small and latency matters more than packet count.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::pin(tcp)),
            Some((connector, name)) => {
                let stream = tokio::time::timeout(
                    self.config.connect_timeout,
                    connector.connect(name.clone(), tcp),
                )
                .await
                .map_err(|_| format!("TLS handshake with {address} timed out"))?
                .map_err(|e| format!("TLS handshake with {address}: {e}"))?;
                Ok(Box::pin(stream))
            }
        }
    }
}

fn tls_connector(config: &SyslogConfig) -> Result<(TlsConnector, ServerName<'static>)> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| Error::Config(format!("syslog ca_file {}: {e}", path.display())))?
            {
                let cert = cert.map_err(|e| {
                    Error::Config(format!("syslog ca_file {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|source| Error::Tls {
                    context: format!("adding CA from {}", path.display()),
                    source,
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Tls {
            context: "choosing TLS versions".into(),
            source,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = match &config.server_name {
        Some(name) => name.clone(),
        None => config
            .address
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&config.address)
            .trim_matches(['[', ']'])
            .to_owned(),
    };
    let name = ServerName::try_from(host.clone())
        .map_err(|e| Error::Config(format!("syslog server name {host}: {e}")))?;
    Ok((TlsConnector::from(Arc::new(client)), name))
}

#[cfg(test)]
mod tests;

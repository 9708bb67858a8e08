//! HTTPS: the mint flow through a TLS front whose certificate a test CA
//! (made here with rcgen) issued. A client given that CA
//! (`ClientOptions::add_root_certificate_pem`) mints and invokes; a client
//! without it is refused with a certificate error before any request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::ArmorIqError;
use client_support::*;
use common::python;
use serde_json::json;
use std::sync::Arc;
use tokio_rustls::rustls;

/// A CA, and a certificate it issued for `localhost` / 127.0.0.1:
/// `(CA PEM, leaf DER, leaf key DER)`.
fn test_ca() -> (String, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "armoriq test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (issuer.pem(), cert.der().to_vec(), leaf_key.serialize_der())
}

/// A TLS front on a free port that forwards each connection's bytes to
/// `127.0.0.1:target` (the plain-HTTP backend of `armoriq serve`).
async fn tls_front(target: u16, cert: Vec<u8>, key: Vec<u8>) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_backend_with_a_private_ca() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let (ca_pem, cert, key) = test_ca();
    let port = tls_front(s.backend, cert, key).await;
    let https = format!("https://localhost:{port}");
    let plan = weather_plan("Paris");

    // Trusting the test CA: the public key, the mint and the invoke work.
    let c = s
        .options()
        .backend_endpoint(&https)
        .add_root_certificate_pem(ca_pem.as_bytes())
        .build()
        .unwrap();
    let cap = c
        .capture_plan("gpt-4o", "weather", Some(&plan), None)
        .unwrap();
    let tok = c.get_intent_token(&cap, None, 120, None).await.unwrap();
    assert!(tok.jwt_token.is_some());
    let r = c
        .invoke(
            MCP,
            "get_weather",
            &tok,
            Some(&json!({"city": "Paris", "units": "metric"})),
            None,
        )
        .await
        .unwrap();
    assert!(text_of(&r.result).contains("Paris"), "{:?}", r.result);

    // Without it: refused, and the message says why (no retries: a
    // certificate error is a connect error, which the SDK retries).
    let c = s
        .options()
        .backend_endpoint(&https)
        .max_retries(0)
        .build()
        .unwrap();
    let e = c.get_intent_token(&cap, None, 120, None).await.unwrap_err();
    assert!(matches!(e, ArmorIqError::InvalidToken(_)), "{e:?}");
    eprintln!("without the CA: {e}");
    let m = e.message().to_lowercase();
    assert!(
        m.contains("certificate") && (m.contains("unknownissuer") || m.contains("issuer")),
        "{m}"
    );

    // A bundle that is not PEM is a configuration error at build time.
    let e = s
        .options()
        .add_root_certificate_pem(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::Configuration(_)), "{e:?}");
}

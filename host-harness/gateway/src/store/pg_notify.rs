//! The change feed on PostgreSQL: `pg_notify` out, `LISTEN` in.
//!
//! A revoking method calls [`notify`] inside the transaction that makes its
//! change, so the notification is sent exactly when (and only if) the
//! change commits, to every node. Each [`PgStore`](super::PgStore) keeps ONE
//! dedicated connection (not from the pool: a pooled connection is handed
//! to others and may be dropped by the pool) that `LISTEN`s on
//! [`CHANNEL`]; a task drives it with `poll_message` and turns each
//! notification into a [`Change`] for the store's subscribers.
//!
//! A notification sent while that connection is down is lost, so when it
//! drops the task sends [`Change::Resync`] at once (subscribers drop every
//! cache), reconnects with backoff (at most 1 s between tries), listens
//! again and sends `Resync` once more (what changed while it was
//! reconnecting is covered too). The task stops when the last handle on the
//! store is dropped ([`Listener`]'s `Drop`).

use super::pg_tls::{MakeRustls, Target};
use super::{Change, StoreResult};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_postgres::{AsyncMessage, Client, Config};

/// The notification channel every node listens on.
pub(super) const CHANNEL: &str = "armoriq_changes";

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Announces `change` when the transaction `tx` commits.
///
/// # Errors
/// The statement failed (the transaction then fails as a whole).
pub(super) async fn notify(
    tx: &tokio_postgres::Transaction<'_>,
    change: &Change,
) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &change.encode()])
        .await
        .map(|_| ())
}

/// The listening task; dropping this stops it (and closes its connection).
pub(super) struct Listener {
    task: AbortHandle,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects the listening connection, `LISTEN`s, and starts the task that
/// feeds `changes`.
///
/// # Errors
/// The first connection or its `LISTEN` failed.
pub(super) async fn listen(
    target: &Target,
    changes: broadcast::Sender<Change>,
) -> StoreResult<Listener> {
    let (config, tls) = (target.config.clone(), target.tls.clone());
    let first = Session::connect(&config, &tls).await?;
    let task = tokio::spawn(run(config, tls, changes, first));
    Ok(Listener {
        task: task.abort_handle(),
    })
}

/// One listening connection: the client (kept: dropping it closes the
/// connection), the task driving the connection, and the payloads it got.
struct Session {
    _client: Client,
    driver: JoinHandle<()>,
    payloads: mpsc::UnboundedReceiver<String>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Session {
    async fn connect(config: &Config, tls: &MakeRustls) -> StoreResult<Self> {
        let (client, mut conn) = config.connect(tls.clone()).await?;
        let (tx, payloads) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "change feed: listening connection lost");
                        return;
                    }
                    None => return,
                }
            }
        });
        let session = Self {
            _client: client,
            driver,
            payloads,
        };
        session
            ._client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await?;
        Ok(session)
    }
}

async fn run(
    config: Config,
    tls: MakeRustls,
    changes: broadcast::Sender<Change>,
    mut session: Session,
) {
    loop {
        while let Some(payload) = session.payloads.recv().await {
            // No subscriber is not an error: nobody caches yet.
            let _ = changes.send(Change::decode(&payload));
        }
        drop(session);
        let _ = changes.send(Change::Resync);
        let mut backoff = Duration::from_millis(50);
        session = loop {
            tokio::time::sleep(backoff).await;
            match Session::connect(&config, &tls).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: reconnecting");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        tracing::info!("change feed: listening again");
        let _ = changes.send(Change::Resync);
    }
}

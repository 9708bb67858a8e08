//! The change feed on PostgreSQL: `pg_notify` out, `LISTEN` in.
//!
//! A revoking method calls [`notify`] inside the transaction that makes its
//! change, so the notification is sent exactly when (and only if) the
//! change commits, to every node. Each [`PgStore`](crate::store::PgStore) keeps ONE
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
//!
//! The connection idles for as long as nothing changes, so the query
//! deadline (`deadline.rs`) never fires on it by itself; to notice a
//! server that stopped answering, the task makes a round trip every half
//! query timeout: `LISTEN` again, which the server answers and otherwise
//! ignores when the session already listens (so `pg_stat_activity` still
//! shows the connection as the listener). Unanswered within the deadline,
//! the connection is given up and the feed resyncs and reconnects as above.

use super::deadline;
use super::tls::{MakeRustls, Target};
use crate::store::{Change, StoreResult};
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
    limit: Duration,
    changes: broadcast::Sender<Change>,
) -> StoreResult<Listener> {
    let (config, tls) = (target.config.clone(), target.tls.clone());
    let link = Link { config, tls, limit };
    let first = Session::connect(&link).await?;
    let task = tokio::spawn(run(link, changes, first));
    Ok(Listener {
        task: task.abort_handle(),
    })
}

/// How the listening connection is made.
struct Link {
    config: Config,
    tls: MakeRustls,
    /// The query deadline (`--pg-query-timeout`).
    limit: Duration,
}

impl Link {
    /// How often the idle connection makes a round trip.
    fn ping_every(&self) -> Duration {
        (self.limit / 2).max(Duration::from_millis(500))
    }
}

/// One listening connection: the client (kept: dropping it closes the
/// connection), the task driving the connection, and the payloads it got.
struct Session {
    client: Client,
    driver: JoinHandle<()>,
    payloads: mpsc::UnboundedReceiver<String>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Session {
    async fn connect(link: &Link) -> StoreResult<Self> {
        let (client, mut conn) = tokio::time::timeout(
            super::TIMEOUT,
            deadline::connect(&link.config, &link.tls, Some(link.limit)),
        )
        .await
        .map_err(|_| {
            crate::store::StoreError::Unavailable(
                "no listening connection within the timeout".into(),
            )
        })??;
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
            client,
            driver,
            payloads,
        };
        session
            .client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await?;
        Ok(session)
    }
}

async fn run(link: Link, changes: broadcast::Sender<Change>, mut session: Session) {
    loop {
        let every = link.ping_every();
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                payload = session.payloads.recv() => match payload {
                    // No subscriber is not an error: nobody caches yet.
                    Some(p) => { let _ = changes.send(Change::decode(&p)); }
                    None => break,
                },
                _ = ping.tick() => {
                    // Bounded by the deadline: an unanswered round trip
                    // ends the connection (and this session).
                    let again = format!("LISTEN {CHANNEL}");
                    if let Err(e) = session.client.batch_execute(&again).await {
                        tracing::warn!(error = %e, "change feed: the server did not answer");
                        break;
                    }
                }
            }
        }
        drop(session);
        let _ = changes.send(Change::Resync);
        let mut backoff = Duration::from_millis(50);
        session = loop {
            tokio::time::sleep(backoff).await;
            match Session::connect(&link).await {
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

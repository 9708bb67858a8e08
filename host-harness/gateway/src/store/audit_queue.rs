//! The audit queue both backends' group-commit writers take their jobs
//! from: a row (or a flush mark) and where to say it is durable.

use super::{AuditRow, StoreError, StoreResult};
use tokio::sync::oneshot;

/// A row to write and where to say it is durable (row id); no row: a
/// flush mark, acknowledged (0) once every row handed over before it is
/// durable or failed ([`crate::store::AuditStore::flush_audit`]).
pub(crate) type Job = (Option<AuditRow>, oneshot::Sender<StoreResult<i64>>);

/// Acknowledges each job of `batch`: the rows with their ids (in order)
/// or the error, the flush marks with 0 or the error.
pub(crate) fn acknowledge(batch: Vec<Job>, written: StoreResult<Vec<i64>>) {
    match written {
        Ok(ids) => {
            let mut ids = ids.into_iter();
            for (row, ack) in batch {
                let id = match row {
                    Some(_) => ids
                        .next()
                        .ok_or_else(|| StoreError::Corrupt("fewer audit ids than rows".into())),
                    None => Ok(0),
                };
                let _ = ack.send(id);
            }
        }
        Err(e) => {
            for (_, ack) in batch {
                let _ = ack.send(Err(e.clone()));
            }
        }
    }
}

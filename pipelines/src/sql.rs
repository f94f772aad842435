//! SQL over a snapshot of the views, with DataFusion.
//!
//! Every table of a [`Snapshot`] is registered as an in-memory table, so one query sees all
//! views at the snapshot's frontier. Tables: `census`, `adt_hourly`, `news2`, `alerts`,
//! `no_show`, `revenue`, `length_of_stay`, `ed_boarding`, `ingest_stats`, `dead_letters`.

use crate::store::Snapshot;
use crate::{Error, Result};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// A DataFusion session with every table of `snapshot` registered.
pub fn session(snapshot: &Snapshot) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    for (name, batch) in &snapshot.tables {
        register(&ctx, name, batch.clone())?;
    }
    Ok(ctx)
}

/// Registers one batch as table `name`.
pub fn register(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])
        .map_err(|e| Error::Query(e.to_string()))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| Error::Query(e.to_string()))?;
    Ok(())
}

/// Runs `sql` against `snapshot` and collects the result.
pub async fn query(snapshot: &Snapshot, sql: &str) -> Result<Vec<RecordBatch>> {
    let ctx = session(snapshot)?;
    run(&ctx, sql).await
}

/// Runs `sql` in a session and collects the result.
pub async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::Query(e.to_string()))?;
    df.collect().await.map_err(|e| Error::Query(e.to_string()))
}

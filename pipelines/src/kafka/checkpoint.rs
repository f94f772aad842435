//! The engine's own checkpoint of a Kafka run: per worker, the ingest state and the next
//! offset of every partition it owns, written together so they always agree.
//!
//! A worker writes its checkpoint between dataflow steps, at a moment when its ingest
//! operator has processed exactly the messages it has read (the engine compares
//! [`IngestState::processed`](wardstream_operators::ingest::IngestState::processed) with
//! its own count). The ingest state holds every applied event (their current versions), the
//! ids still held for dedup and each tenant's greatest event time. A restarted worker inserts
//! the applied events into the views, restores the ingest state and reads on from the
//! offsets: its views equal those of a run that never stopped, and no message is counted
//! twice (messages read after the checkpoint are read again, from the checkpoint's offsets,
//! into the state as of the checkpoint). Dead letters sent between the last checkpoint and a
//! crash are sent again: the dead-letter topic is at-least-once, and its `origin` header
//! tells repeats apart.
//!
//! Files: `<dir>/worker-<index>.json`, written to a temporary file, synced and renamed into
//! place. A checkpoint is only valid for the same number of workers (partitions are owned
//! by `p % workers`); resuming with another count is refused with an error naming both.

use super::{Positions, Topics, WatermarkState};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use wardstream_operators::ingest::IngestSnapshot;

/// What one worker's checkpoint file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerCheckpoint {
    /// File format version (1).
    pub format: u32,
    /// The worker's index.
    pub worker: usize,
    /// The number of workers of the run that wrote it.
    pub workers: usize,
    /// The topics it read.
    pub topics: Topics,
    /// Next offset to read per topic and partition (`-1`: none read yet).
    pub positions: Positions,
    /// Event-time progress of those partitions (the watermarks' inputs).
    pub watermarks: WatermarkState,
    /// The worker's ingest state at those offsets.
    pub ingest: IngestSnapshot,
}

/// The file of worker `index` under `dir`.
pub fn path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("worker-{index}.json"))
}

/// Writes `checkpoint` atomically (temporary file, fsync, rename, fsync of the folder).
///
/// Errors: the folder cannot be created or written ([`Error::Io`]).
pub fn write(dir: &Path, checkpoint: &WorkerCheckpoint) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let target = path(dir, checkpoint.worker);
    let tmp = dir.join(format!("worker-{}.json.tmp", checkpoint.worker));
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer(&mut f, checkpoint)?;
        f.flush()?;
        f.get_ref().sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| Error::io(&target, e))
}

/// Reads worker `index`'s checkpoint under `dir`, if there is one, checking that it was
/// written by a run with `workers` workers over `topics`.
///
/// Errors: unreadable or corrupt file ([`Error::Io`]), or written for another worker count
/// or other topics ([`Error::Checkpoint`]).
pub fn read(
    dir: &Path,
    index: usize,
    workers: usize,
    topics: &Topics,
) -> Result<Option<WorkerCheckpoint>> {
    let file = path(dir, index);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Without our own file, a checkpoint written by more workers must not be ignored.
            if index == 0 && workers_in(dir)? > workers {
                return Err(Error::Checkpoint(format!(
                    "{} holds checkpoints of more than {workers} workers: resume with the same number of workers, or remove it to start over",
                    dir.display()
                )));
            }
            return Ok(None);
        }
        Err(e) => return Err(Error::io(&file, e)),
    };
    let checkpoint: WorkerCheckpoint = serde_json::from_slice(&bytes).map_err(|e| {
        Error::io(
            &file,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    if checkpoint.workers != workers || checkpoint.worker != index {
        return Err(Error::Checkpoint(format!(
            "{} was written by worker {} of {}; this run has {workers} workers: resume with the same number, or remove the folder to start over",
            file.display(),
            checkpoint.worker,
            checkpoint.workers
        )));
    }
    if &checkpoint.topics != topics {
        return Err(Error::Checkpoint(format!(
            "{} was written for topics {:?}, not {:?}",
            file.display(),
            checkpoint.topics,
            topics
        )));
    }
    Ok(Some(checkpoint))
}

fn workers_in(dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(i) = name
            .strip_prefix("worker-")
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|i| i.parse::<usize>().ok())
        {
            n = n.max(i + 1);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(worker: usize, workers: usize) -> WorkerCheckpoint {
        let mut positions = Positions::new();
        positions
            .entry("wardstream.adt".into())
            .or_default()
            .insert(2, 17);
        WorkerCheckpoint {
            format: 1,
            worker,
            workers,
            topics: Topics::default(),
            positions,
            watermarks: WatermarkState::default(),
            ingest: IngestSnapshot::default(),
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let dir = std::env::temp_dir().join(format!("ws-cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let topics = Topics::default();
        assert_eq!(read(&dir, 0, 2, &topics).ok().flatten(), None);
        let cp = sample(1, 2);
        write(&dir, &cp).expect("write");
        assert_eq!(read(&dir, 1, 2, &topics).expect("read"), Some(cp));
        let err = read(&dir, 1, 3, &topics).expect_err("other worker count");
        assert!(err.to_string().contains("worker 1 of 2"), "{err}");
        let err = read(&dir, 0, 1, &topics).expect_err("more workers wrote");
        assert!(err.to_string().contains("more than 1 workers"), "{err}");
        let err = read(&dir, 1, 2, &Topics::with_prefix("x")).expect_err("other topics");
        assert!(err.to_string().contains("topics"), "{err}");
        std::fs::write(path(&dir, 1), b"{not json").expect("corrupt");
        assert!(read(&dir, 1, 2, &topics).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

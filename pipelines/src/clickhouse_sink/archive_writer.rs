//! The raw archive's writer: `raw_events` and `dead_letters` by source position, resumed
//! from `archive_progress` (see the parent module's "Exactly once").

use super::*;

/// The archive's resume point: per share, the committed prefix and the positions above it
/// already written.
#[derive(Debug, Default)]
pub(super) struct Resume {
    prefix: HashMap<u16, u64>,
    above: HashSet<(u16, u64)>,
    ingest_letters: HashSet<(String, Vec<u8>)>,
}

impl Resume {
    fn written(&self, a: &Archived) -> bool {
        self.is_written(a.share, a.seq)
    }

    fn is_written(&self, share: u16, seq: u64) -> bool {
        self.prefix.get(&share).is_some_and(|p| seq <= *p) || self.above.contains(&(share, seq))
    }

    /// Records that every position up to `high[share]` is written. Positions found above the
    /// prefix at resume stay skipped until the prefix passes them: a restarted source re-feeds
    /// from its start, so its first flushes lie below them.
    fn advance(&mut self, high: &BTreeMap<u16, u64>) {
        for (share, seq) in high {
            let p = self.prefix.entry(*share).or_insert(0);
            *p = (*p).max(*seq);
        }
        let prefix = &self.prefix;
        self.above
            .retain(|(share, seq)| prefix.get(share).is_none_or(|p| seq > p));
    }
}

impl Mirror {
    pub(super) async fn load_resume(&self) -> Result<Resume> {
        let source = self.config.source_id.as_str();
        let schema = Arc::new(Schema::new(vec![
            Field::new("share", DataType::UInt16, false),
            Field::new("seq", DataType::UInt64, false),
            Field::new("shares", DataType::UInt16, false),
        ]));
        let progress = select(
            &self.client,
            &format!(
                "SELECT share, max(seq), any(shares) FROM {}.archive_progress WHERE source_id = ? GROUP BY share",
                self.db
            ),
            &[source],
            schema.clone(),
        )
        .await?;
        let mut resume = Resume::default();
        let shares = primitive_column::<arrow::datatypes::UInt16Type>(&progress, 0)?;
        let seqs = primitive_column::<arrow::datatypes::UInt64Type>(&progress, 1)?;
        let counts = primitive_column::<arrow::datatypes::UInt16Type>(&progress, 2)?;
        let now = self.queue.shares();
        for ((share, seq), count) in shares.into_iter().zip(seqs).zip(counts) {
            if now > 0 && usize::from(count) != now {
                return Err(Error::ClickHouse {
                    detail: format!(
                        "the archive holds source {source:?} read by {count} workers; this run has {now}. Restart with --workers {count}, or archive under another source id"
                    ),
                    transient: false,
                });
            }
            resume.prefix.insert(share, seq);
        }
        let low = resume.prefix.values().copied().min().unwrap_or(0);
        for table in ["raw_events", "dead_letters"] {
            let found = select(
                &self.client,
                &format!(
                    "SELECT share, seq, shares FROM {}.{table} WHERE source_id = ? AND seq > {low}",
                    self.db
                ),
                &[source],
                schema.clone(),
            )
            .await?;
            for (share, seq) in primitive_column::<arrow::datatypes::UInt16Type>(&found, 0)?
                .into_iter()
                .zip(primitive_column::<arrow::datatypes::UInt64Type>(&found, 1)?)
            {
                if resume.prefix.get(&share).is_none_or(|p| seq > *p) {
                    resume.above.insert((share, seq));
                }
            }
        }
        let letters = select(
            &self.client,
            &format!(
                "SELECT stream, raw FROM {}.dead_letters WHERE source_id = ? AND seq = 0",
                self.db
            ),
            &[source],
            Arc::new(Schema::new(vec![
                Field::new("stream", DataType::Utf8, false),
                Field::new("raw", DataType::Utf8, false),
            ])),
        )
        .await?;
        for (stream, raw) in string_column(&letters, 0)?
            .into_iter()
            .zip(string_column(&letters, 1)?)
        {
            resume
                .ingest_letters
                .insert((stream.to_owned(), raw.as_bytes().to_vec()));
        }
        Ok(resume)
    }

    pub(super) async fn flush_archive(&mut self) -> Result<()> {
        self.pending.extend(self.queue.take());
        let (letters, seen) = self.store.dead_letters_from(self.letters_seen);
        self.letters_seen = seen;
        self.pending_letters
            .extend(letters.into_iter().filter(|l| l.origin == INGEST_ORIGIN));
        if self.pending.is_empty() && self.pending_letters.is_empty() {
            return Ok(());
        }
        let Some(resume) = &self.resume else {
            return Ok(());
        };
        let shares = self.queue.shares().max(1) as u16;
        let source = self.config.source_id.clone();
        let mut events: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut rejected: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut high: BTreeMap<u16, u64> = BTreeMap::new();
        for a in &self.pending {
            let h = high.entry(a.share).or_insert(0);
            *h = (*h).max(a.seq);
            if resume.written(a) {
                continue;
            }
            let mut row = Vec::new();
            row_binary::write_str(&source, &mut row);
            row.extend_from_slice(&shares.to_le_bytes());
            row.extend_from_slice(&a.share.to_le_bytes());
            row.extend_from_slice(&a.seq.to_le_bytes());
            match &a.record {
                SourceRecord::Event(e) => {
                    row_binary::write_str(e.stream().as_str(), &mut row);
                    row_binary::write_str(e.tenant_id(), &mut row);
                    row_binary::write_str(e.event_id(), &mut row);
                    row.extend_from_slice(&e.event_time().to_le_bytes());
                    row_binary::write_str(&e.to_json(), &mut row);
                    events.push((e.event_time(), row));
                }
                SourceRecord::Rejected(r) => {
                    row_binary::write_str(r.stream.as_str(), &mut row);
                    row_binary::write_str(r.reject.reason.code(), &mut row);
                    row_binary::write_str(&r.reject.detail, &mut row);
                    row_binary::write_str(&r.origin, &mut row);
                    row.extend_from_slice(&r.order_time.to_le_bytes());
                    row_binary::write_bytes(&r.raw, &mut row);
                    rejected.push((r.order_time, row));
                }
            }
        }
        for l in &self.pending_letters {
            if resume
                .ingest_letters
                .contains(&(l.stream.as_str().to_owned(), l.raw.clone()))
            {
                continue;
            }
            let mut row = Vec::new();
            row_binary::write_str(&source, &mut row);
            row.extend_from_slice(&shares.to_le_bytes());
            row.extend_from_slice(&0u16.to_le_bytes());
            row.extend_from_slice(&0u64.to_le_bytes());
            row_binary::write_str(l.stream.as_str(), &mut row);
            row_binary::write_str(l.reject.reason.code(), &mut row);
            row_binary::write_str(&l.reject.detail, &mut row);
            row_binary::write_str(&l.origin, &mut row);
            row.extend_from_slice(&l.order_time.to_le_bytes());
            row_binary::write_bytes(&l.raw, &mut row);
            rejected.push((l.order_time, row));
        }
        for (name, rows) in [("raw_events", events), ("dead_letters", rejected)] {
            let schema = archive_tables()
                .into_iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, _, s)| s)
                .ok_or_else(|| Error::Dataflow(format!("no archive table {name}")))?;
            let columns = insert_columns(&schema);
            let table = format!("{}.{}", self.db, quote(name));
            for chunk in day_chunks(rows) {
                let n = chunk.len();
                let buf: Vec<u8> = chunk.into_iter().flatten().collect();
                self.insert_counted(&table, &columns, buf, n, false).await?;
            }
        }
        if !high.is_empty() {
            let mut buf = Vec::new();
            for (share, seq) in &high {
                row_binary::write_str(&source, &mut buf);
                buf.extend_from_slice(&shares.to_le_bytes());
                buf.extend_from_slice(&share.to_le_bytes());
                buf.extend_from_slice(&seq.to_le_bytes());
            }
            let columns = ["`source_id`", "`shares`", "`share`", "`seq`"].map(String::from);
            insert(
                &self.client,
                &self.in_flight,
                self.timeout(),
                self.next_query_id(),
                &format!("{}.archive_progress", self.db),
                &columns,
                buf,
            )
            .await?;
        }
        if let Some(resume) = &mut self.resume {
            resume.advance(&high);
            for l in self.pending_letters.drain(..) {
                resume
                    .ingest_letters
                    .insert((l.stream.as_str().to_owned(), l.raw));
            }
        }
        self.pending.clear();
        Ok(())
    }
}

/// Splits rows (keyed by their time in ms) into inserts of at most [`MAX_INSERT_ROWS`] rows
/// and [`MAX_INSERT_PARTITIONS`] days, keeping their order.
fn day_chunks(rows: Vec<(i64, Vec<u8>)>) -> Vec<Vec<Vec<u8>>> {
    let mut chunks = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut days: HashSet<i64> = HashSet::new();
    for (time, row) in rows {
        let day = time.div_euclid(MS_PER_DAY);
        if current.len() >= MAX_INSERT_ROWS
            || (!days.contains(&day) && days.len() >= MAX_INSERT_PARTITIONS)
        {
            chunks.push(std::mem::take(&mut current));
            days.clear();
        }
        days.insert(day);
        current.push(row);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// `raw_events`, `dead_letters` and `archive_progress`: name, DDL after the name, and the
/// Arrow schema of the columns the mirror writes.
pub(super) fn archive_tables() -> Vec<(&'static str, String, SchemaRef)> {
    let position = || {
        vec![
            Field::new("source_id", DataType::Utf8, false),
            Field::new("shares", DataType::UInt16, false),
            Field::new("share", DataType::UInt16, false),
            Field::new("seq", DataType::UInt64, false),
        ]
    };
    let mut events = position();
    events.extend([
        Field::new("stream", DataType::Utf8, false),
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("event_id", DataType::Utf8, false),
        Field::new("event_time", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]);
    let mut letters = position();
    letters.extend([
        Field::new("stream", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("origin", DataType::Utf8, false),
        Field::new("order_time", DataType::Int64, false),
        Field::new("raw", DataType::Utf8, false),
    ]);
    let ddl = |fields: &[Field], tail: &str| -> String {
        let cols: Vec<String> = fields
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    quote(f.name()),
                    row_binary::column_type(f).unwrap_or_else(|_| "String".into())
                )
            })
            .collect();
        format!(
            "({}, `archived_at` DateTime DEFAULT now()) {tail}",
            cols.join(", ")
        )
    };
    vec![
        (
            "raw_events",
            ddl(
                &events,
                "ENGINE = MergeTree PARTITION BY toInt32(floor(event_time / 86400000)) ORDER BY (stream, tenant_id, event_time, event_id)",
            ),
            Arc::new(Schema::new(events.clone())),
        ),
        (
            "dead_letters",
            ddl(
                &letters,
                "ENGINE = MergeTree PARTITION BY toInt32(floor(order_time / 86400000)) ORDER BY (stream, reason, order_time)",
            ),
            Arc::new(Schema::new(letters.clone())),
        ),
        (
            "archive_progress",
            ddl(
                &position(),
                "ENGINE = MergeTree ORDER BY (source_id, share, seq)",
            ),
            Arc::new(Schema::new(position())),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_found_above_the_prefix_stay_written_until_the_prefix_passes_them() {
        // A first run committed share 0 up to 100 and wrote 101..=150 without its progress row.
        let mut resume = Resume::default();
        resume.prefix.insert(0, 100);
        resume.above.extend((101..=150).map(|seq| (0, seq)));
        // The restarted source re-feeds from the start: its first flush ends at 60.
        resume.advance(&BTreeMap::from([(0, 60)]));
        assert!(resume.is_written(0, 60) && resume.is_written(0, 100));
        assert!(
            resume.is_written(0, 120),
            "forgot a position found at resume"
        );
        assert!(!resume.is_written(0, 151));
        // Past them, the set empties; the prefix covers them.
        resume.advance(&BTreeMap::from([(0, 160)]));
        assert!(resume.above.is_empty());
        assert!(resume.is_written(0, 150) && !resume.is_written(0, 161));
        assert!(
            !resume.is_written(1, 1),
            "another share's positions are its own"
        );
    }

    #[test]
    fn chunks_respect_the_partition_and_row_limits() {
        let rows: Vec<(i64, Vec<u8>)> = (0..250)
            .map(|d| (d * MS_PER_DAY + 5, vec![d as u8]))
            .collect();
        let chunks = day_chunks(rows);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        // Several rows a day: a chunk ends only when a 101st day would begin.
        let rows: Vec<(i64, Vec<u8>)> = (0..300)
            .map(|i| ((i / 3) * MS_PER_DAY - 1, vec![]))
            .collect();
        let chunks = day_chunks(rows);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [300]);
        let rows: Vec<(i64, Vec<u8>)> = (0..303).map(|i| ((i / 3) * MS_PER_DAY, vec![])).collect();
        assert_eq!(
            day_chunks(rows).iter().map(Vec::len).collect::<Vec<_>>(),
            [300, 3]
        );
    }
}

//! What Eddy wrote into PostgreSQL, compared with the known dataset's reference: the results
//! table (missing, unexpected and wrong rows), the late and dead-letter tables (records as
//! multisets), and the progress table.

use std::collections::BTreeMap;

use crate::dataset::{Compared, Dataset, Row};

/// The pipeline of the dataset writing results, late events and dead letters into
/// PostgreSQL tables `results`, `late` and `dead` (the source and the rest are added by the
/// caller).
pub const AGGREGATES: &str = r#"
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 500ms }
window: { type: tumbling, size: 5s }
aggregates:
  - { name: count, plugin: count }
  - { name: sum, plugin: sum, field: /amount }
  - { name: min, plugin: min, field: /amount }
  - { name: max, plugin: max, field: /amount }
batch_size: 256
"#;

/// `sink`, `late` and `dead_letter` into the tables `results`, `late` and `dead` at `url`.
pub fn outputs(url: &str) -> String {
    format!(
        "sink: {{ type: postgres, url: '{url}', table: results }}
late: {{ type: postgres, url: '{url}', table: late }}
dead_letter: {{ type: postgres, url: '{url}', table: dead }}
"
    )
}

/// The result rows of `table` (the far-future `flush` key left out), sorted.
pub fn results(client: &mut postgres::Client, table: &str) -> Vec<Row> {
    client
        .query(
            &format!(
                "SELECT key, window_start, window_end, emit, count, sum, min, max FROM {table}
                 WHERE key <> 'flush' ORDER BY key, window_start"
            ),
            &[],
        )
        .expect("result rows")
        .iter()
        .map(|r| {
            let int = |i: usize| {
                let v: Option<f64> = r.get(i);
                v.map_or(i64::MIN, |v| v as i64)
            };
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                int(4),
                int(5),
                int(6),
                int(7),
            )
        })
        .collect()
}

/// The records of a side table, as text.
pub fn records(client: &mut postgres::Client, table: &str) -> Vec<String> {
    client
        .query(&format!("SELECT record FROM {table}"), &[])
        .expect("side rows")
        .iter()
        .map(|r| String::from_utf8_lossy(r.get::<_, &[u8]>(0)).into_owned())
        .collect()
}

/// A side table's rows: (reason, partition, offset, event time, watermark).
pub type SideRow = (String, Option<i32>, Option<i64>, Option<i64>, Option<i64>);

/// Every row of a side table without its record.
pub fn side_rows(client: &mut postgres::Client, table: &str) -> Vec<SideRow> {
    client
        .query(
            &format!(
                "SELECT reason, source_partition, source_offset, event_time, watermark FROM {table}"
            ),
            &[],
        )
        .expect("side rows")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// The tables compared with the dataset's reference.
pub struct TableReport {
    /// Result rows.
    pub results: Compared<Row>,
    /// Rows whose window is in the reference with other values (counted in `missing` and
    /// `unexpected` too).
    pub wrong: usize,
    /// Late events' records.
    pub late: Compared<String>,
    /// Dead letters' records.
    pub dead: Compared<String>,
}

impl TableReport {
    /// Compares the tables `results`, `late` and `dead` with `data`'s reference.
    pub fn of(client: &mut postgres::Client, data: &Dataset) -> Self {
        let got = results(client, "results");
        let want = data.reference();
        let by_window: BTreeMap<(&str, i64), &Row> =
            want.iter().map(|r| ((r.0.as_str(), r.1), r)).collect();
        let wrong = got
            .iter()
            .filter(|r| {
                by_window
                    .get(&(r.0.as_str(), r.1))
                    .is_some_and(|want| want != r)
            })
            .count();
        let sorted = |items: &[Vec<u8>]| -> Vec<String> {
            let mut v: Vec<String> = items
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            v.sort();
            v
        };
        Self {
            results: Compared::of(got, &want),
            wrong,
            late: Compared::of(records(client, "late"), &sorted(&data.late)),
            dead: Compared::of(records(client, "dead"), &sorted(&data.junk)),
        }
    }

    /// Everything equals the reference: no row missing, unexpected, wrong or twice.
    pub fn exact(&self) -> bool {
        self.results.exact() && self.wrong == 0 && self.late.exact() && self.dead.exact()
    }

    /// Counts per table.
    pub fn summary(&self) -> String {
        format!(
            "results: {} missing, {} unexpected, {} wrong; late: {} missing, {} unexpected, {} duplicates; dead letters: {} missing, {} unexpected, {} duplicates",
            self.results.missing.len(),
            self.results.unexpected.len(),
            self.wrong,
            self.late.missing.len(),
            self.late.unexpected.len(),
            self.late.duplicates,
            self.dead.missing.len(),
            self.dead.unexpected.len(),
            self.dead.duplicates,
        )
    }
}

/// The progress table's rows for `pipeline`: partition → (next offset, read to); empty
/// when there is no progress table (at-least-once).
pub fn progress(client: &mut postgres::Client, pipeline: &str) -> BTreeMap<i32, (i64, i64)> {
    let exists: bool = client
        .query_one("SELECT to_regclass('eddy_progress') IS NOT NULL", &[])
        .expect("progress table lookup")
        .get(0);
    if !exists {
        return BTreeMap::new();
    }
    client
        .query(
            "SELECT partition, next_offset, read_to FROM eddy_progress WHERE pipeline = $1",
            &[&pipeline],
        )
        .expect("progress")
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

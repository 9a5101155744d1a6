//! The native baseline of the benchmark suite (issue 19): the job `scripts/bench.sh` gives
//! `eddy run` — JSON lines in, 10 s tumbling windows per key with a watermark 500 ms behind the
//! newest event, count / sum / min / max / avg of `/amount`, JSON lines out — written as a
//! small single-purpose program with serde_json and a hash map, no plugins and no sandbox.
//! Its results are Eddy's, line for line (in another order): the benchmark checks that.
//!
//! Usage: `native-baseline INPUT OUTPUT [SIZE_MS] [OUT_OF_ORDERNESS_MS]`

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use eddy_sdk::CompensatedSum;
use serde::Deserialize;

/// The fields the job reads.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    ts: i64,
    amount: f64,
}

/// One key's running aggregates in one window.
struct Acc {
    count: u64,
    sum: CompensatedSum,
    min: f64,
    max: f64,
}

impl Acc {
    fn new() -> Self {
        Self {
            count: 0,
            sum: CompensatedSum::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum.add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

/// Tumbling windows per key: the open windows of each key by their start.
struct Job {
    size: i64,
    out_of_orderness: i64,
    keys: HashMap<String, Vec<(i64, Acc)>>,
    max_ts: i64,
    /// The earliest end of an open window.
    next_end: i64,
    late: u64,
    bad: u64,
}

impl Job {
    fn add(&mut self, line: &[u8], out: &mut impl Write) -> io::Result<()> {
        let Ok(event) = serde_json::from_slice::<Event>(line) else {
            self.bad += 1;
            return Ok(());
        };
        let watermark = self.max_ts.saturating_sub(self.out_of_orderness);
        let start = event.ts - event.ts.rem_euclid(self.size);
        if start + self.size <= watermark {
            self.late += 1;
            return Ok(());
        }
        let windows = match self.keys.get_mut(event.key.as_ref()) {
            Some(windows) => windows,
            None => self.keys.entry(event.key.into_owned()).or_default(),
        };
        match windows.iter_mut().find(|(s, _)| *s == start) {
            Some((_, acc)) => acc.add(event.amount),
            None => {
                let mut acc = Acc::new();
                acc.add(event.amount);
                windows.push((start, acc));
                self.next_end = self.next_end.min(start + self.size);
            }
        }
        if event.ts > self.max_ts {
            self.max_ts = event.ts;
            let watermark = self.max_ts.saturating_sub(self.out_of_orderness);
            if watermark >= self.next_end {
                self.close(watermark, out)?;
            }
        }
        Ok(())
    }

    /// Writes and drops every window whose end is at or before `watermark`.
    fn close(&mut self, watermark: i64, out: &mut impl Write) -> io::Result<()> {
        let mut next_end = i64::MAX;
        for (key, windows) in &mut self.keys {
            let mut i = 0;
            while i < windows.len() {
                let end = windows[i].0 + self.size;
                if end <= watermark {
                    let (start, acc) = windows.swap_remove(i);
                    write_result(out, key, start, end, &acc)?;
                } else {
                    next_end = next_end.min(end);
                    i += 1;
                }
            }
        }
        self.keys.retain(|_, windows| !windows.is_empty());
        self.next_end = next_end;
        Ok(())
    }
}

/// A number as Eddy writes it: an integer when whole and exact.
fn write_number(out: &mut impl Write, v: f64) -> io::Result<()> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        write!(out, "{}", v as i64)
    } else {
        serde_json::to_writer(&mut *out, &v).map_err(io::Error::other)
    }
}

fn write_result(
    out: &mut impl Write,
    key: &str,
    start: i64,
    end: i64,
    acc: &Acc,
) -> io::Result<()> {
    out.write_all(b"{\"key\":")?;
    serde_json::to_writer(&mut *out, key).map_err(io::Error::other)?;
    write!(
        out,
        ",\"window_start\":{start},\"window_end\":{end},\"emit\":\"on_time\",\"count\":{}",
        acc.count
    )?;
    let sum = acc.sum.value();
    for (name, v) in [
        ("sum", sum),
        ("min", acc.min),
        ("max", acc.max),
        ("avg", sum / acc.count as f64),
    ] {
        write!(out, ",\"{name}\":")?;
        write_number(out, v)?;
    }
    out.write_all(b"}\n")
}

fn run(args: &[String]) -> io::Result<(u64, Job)> {
    let number = |i: usize, default: i64| -> io::Result<i64> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| io::Error::other(format!("not a number: {s}")))
        })
    };
    let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
        return Err(io::Error::other(
            "usage: native-baseline INPUT OUTPUT [SIZE_MS] [OUT_OF_ORDERNESS_MS]",
        ));
    };
    let mut job = Job {
        size: number(3, 10_000)?.max(1),
        out_of_orderness: number(4, 500)?,
        keys: HashMap::new(),
        max_ts: i64::MIN,
        next_end: i64::MAX,
        late: 0,
        bad: 0,
    };
    let mut input = BufReader::with_capacity(1 << 20, File::open(input)?);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(output)?);
    let mut line = Vec::new();
    let mut events = 0;
    while input.read_until(b'\n', &mut line)? > 0 {
        if line.iter().any(|b| !b.is_ascii_whitespace()) {
            job.add(&line, &mut out)?;
            events += 1;
        }
        line.clear();
    }
    job.close(i64::MAX, &mut out)?;
    out.flush()?;
    Ok((events, job))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok((events, job)) => {
            eprintln!(
                "{events} events, {} late, {} not decoded",
                job.late, job.bad
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("native-baseline: {error}");
            ExitCode::FAILURE
        }
    }
}

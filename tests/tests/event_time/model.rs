//! The brute-force reference model of the event-time semantics. It shares no code with the
//! engine: value lists per group, linear scans, and count and sum recomputed for every result.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
pub enum Win {
    Tumbling { size: i64, offset: i64 },
    Sliding { size: i64, slide: i64, offset: i64 },
    Session { gap: i64 },
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub window: Win,
    pub bound: i64,
    pub lateness: i64,
    pub wm_interval: i64,
    pub idle: Option<i64>,
    pub count: Option<u64>,
    pub every: Option<i64>,
}

/// (kind, key, start, end, count, sum)
pub type Row = (String, String, i64, i64, u64, i64);

#[derive(Debug, Clone)]
struct MGroup {
    key: String,
    start: i64,
    end: i64,
    values: Vec<i64>,
    fired: bool,
    pending: u64,
}

pub struct Model {
    spec: Spec,
    groups: Vec<Option<MGroup>>,
    partitions: BTreeMap<u32, (Option<i64>, i64)>,
    wm: i64,
    last_advance: Option<i64>,
    last_time_fire: Option<i64>,
}

impl Model {
    pub fn new(spec: Spec) -> Self {
        Self {
            spec,
            groups: Vec::new(),
            partitions: BTreeMap::new(),
            wm: i64::MIN,
            last_advance: None,
            last_time_fire: None,
        }
    }

    fn windows(&self, t: i64) -> Vec<(i64, i64)> {
        match self.spec.window {
            Win::Tumbling { size, offset } => {
                let mut s = offset - size * 1000;
                while s + size <= t {
                    s += size;
                }
                while s > t {
                    s -= size;
                }
                vec![(s, s + size)]
            }
            Win::Sliding {
                size,
                slide,
                offset,
            } => {
                let mut out = Vec::new();
                let mut s = offset + ((t - size - offset).div_euclid(slide) - 1) * slide;
                while s <= t {
                    if s <= t && t < s + size {
                        out.push((s, s + size));
                    }
                    s += slide;
                }
                out
            }
            Win::Session { gap } => vec![(t, t + gap)],
        }
    }

    fn expired(&self, end: i64) -> bool {
        end.saturating_add(self.spec.lateness) <= self.wm
    }

    pub fn batch(
        &mut self,
        partition: u32,
        events: &[(String, i64, i64)],
        now: i64,
    ) -> (Vec<Row>, Vec<i64>) {
        let p = self.partitions.entry(partition).or_insert((None, now));
        p.1 = p.1.max(now);
        let mut touched: Vec<usize> = Vec::new();
        let mut late = Vec::new();
        for (key, t, v) in events {
            let p = self.partitions.get_mut(&partition).expect("touched");
            p.0 = Some(p.0.map_or(*t, |m| m.max(*t)));
            let mut accepted = false;
            for (start, end) in self.windows(*t) {
                let id = if let Win::Session { .. } = self.spec.window {
                    let touching: Vec<usize> = (0..self.groups.len())
                        .filter(|&i| {
                            self.groups[i]
                                .as_ref()
                                .is_some_and(|g| g.key == *key && g.start <= end && start <= g.end)
                        })
                        .collect();
                    if touching.is_empty() {
                        if self.expired(end) {
                            continue;
                        }
                        self.open(key, start, end)
                    } else {
                        let target = touching[0];
                        let (mut s, mut e) = (start, end);
                        let mut values = Vec::new();
                        let mut pending = 0;
                        for &i in &touching {
                            let g = self.groups[i].take().expect("alive");
                            s = s.min(g.start);
                            e = e.max(g.end);
                            values.extend(g.values);
                            pending += g.pending;
                            for x in touched.iter_mut() {
                                if *x == i {
                                    *x = target;
                                }
                            }
                        }
                        self.groups[target] = Some(MGroup {
                            key: key.clone(),
                            start: s,
                            end: e,
                            values,
                            fired: e <= self.wm,
                            pending,
                        });
                        target
                    }
                } else {
                    if self.expired(end) {
                        continue;
                    }
                    match (0..self.groups.len()).find(|&i| {
                        self.groups[i]
                            .as_ref()
                            .is_some_and(|g| g.key == *key && g.start == start && g.end == end)
                    }) {
                        Some(i) => i,
                        None => self.open(key, start, end),
                    }
                };
                let g = self.groups[id].as_mut().expect("alive");
                g.values.push(*v);
                g.pending += 1;
                touched.push(id);
                accepted = true;
            }
            if !accepted {
                late.push(*t);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        (self.emit(now, &touched), late)
    }

    fn open(&mut self, key: &str, start: i64, end: i64) -> usize {
        self.groups.push(Some(MGroup {
            key: key.to_string(),
            start,
            end,
            values: Vec::new(),
            fired: end <= self.wm,
            pending: 0,
        }));
        self.groups.len() - 1
    }

    fn row(&mut self, id: usize, kind: &str) -> Row {
        let g = self.groups[id].as_mut().expect("alive");
        g.pending = 0;
        (
            kind.to_string(),
            g.key.clone(),
            g.start,
            g.end,
            g.values.len() as u64,
            g.values.iter().sum(),
        )
    }

    fn alive(&self, id: usize) -> Option<&MGroup> {
        self.groups[id].as_ref()
    }

    pub fn emit(&mut self, now: i64, touched: &[usize]) -> Vec<Row> {
        let mut rows = Vec::new();
        for &id in touched {
            if self.alive(id).is_some_and(|g| g.fired) {
                rows.push(self.row(id, "late_update"));
            }
        }
        if self
            .last_advance
            .is_none_or(|last| now - last >= self.spec.wm_interval)
        {
            let idle = self.spec.idle;
            let candidate = self
                .partitions
                .values()
                .filter(|(_, active)| idle.is_none_or(|i| now - active <= i))
                .filter_map(|(max, _)| max.map(|m| m - self.spec.bound))
                .min();
            if let Some(c) = candidate {
                self.wm = self.wm.max(c);
            }
            self.last_advance = Some(now);
        }
        for id in 0..self.groups.len() {
            if self.alive(id).is_some_and(|g| !g.fired && g.end <= self.wm) {
                self.groups[id].as_mut().expect("alive").fired = true;
                rows.push(self.row(id, "on_time"));
            }
        }
        let time_fires = match (self.spec.every, self.last_time_fire) {
            (None, _) => false,
            (Some(_), None) => {
                self.last_time_fire = Some(now);
                false
            }
            (Some(every), Some(last)) => {
                let fires = now - last >= every;
                if fires {
                    self.last_time_fire = Some(now);
                }
                fires
            }
        };
        let early: Vec<usize> = if time_fires {
            (0..self.groups.len())
                .filter(|&id| self.alive(id).is_some_and(|g| !g.fired && g.pending > 0))
                .collect()
        } else {
            touched
                .iter()
                .copied()
                .filter(|&id| {
                    self.alive(id).is_some_and(|g| {
                        !g.fired && self.spec.count.is_some_and(|c| g.pending >= c)
                    })
                })
                .collect()
        };
        for id in early {
            rows.push(self.row(id, "early"));
        }
        for slot in &mut self.groups {
            if slot
                .as_ref()
                .is_some_and(|g| g.end.saturating_add(self.spec.lateness) <= self.wm)
            {
                *slot = None;
            }
        }
        rows.sort();
        rows
    }

    pub fn finish(&mut self) -> Vec<Row> {
        let mut rows = Vec::new();
        for id in 0..self.groups.len() {
            if self.alive(id).is_some_and(|g| !g.fired) {
                rows.push(self.row(id, "on_time"));
            }
        }
        rows.sort();
        rows
    }
}

//! Neumaier's compensated summation, shared by the built-in `sum`, `avg` and `stddev`.

use serde::{Deserialize, Serialize};

/// A running sum that carries its rounding error, so that adding many values of mixed
/// magnitude loses almost nothing (Neumaier's variant of Kahan summation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// Adds a value.
    pub fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - t) + value;
        } else {
            self.compensation += (value - t) + self.sum;
        }
        self.sum = t;
    }

    /// Adds another running sum.
    pub fn merge(&mut self, other: Self) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }

    /// The sum.
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

#[cfg(test)]
mod tests {
    use super::CompensatedSum;

    #[test]
    fn keeps_small_values_next_to_large_ones() {
        let mut s = CompensatedSum::default();
        for v in [1e16, 1.0, -1e16, 1.0] {
            s.add(v);
        }
        assert_eq!(s.value(), 2.0);
        let mut a = CompensatedSum::default();
        a.add(1e16);
        a.add(1.0);
        let mut b = CompensatedSum::default();
        b.add(-1e16);
        b.add(1.0);
        a.merge(b);
        assert_eq!(a.value(), 2.0);
    }
}

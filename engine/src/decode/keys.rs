//! The keys of a decoded batch in one column: their text back to back and where each ends, so
//! that decoding an event allocates nothing.

/// Keys of a batch's events, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Keys {
    text: String,
    ends: Vec<u32>,
}

impl Keys {
    /// Room for `keys` keys of about `bytes` bytes in all.
    pub fn with_capacity(keys: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
        }
    }

    /// Adds a key.
    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len() as u32);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th key.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        self.text.get(start..end)
    }

    /// The keys in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start as usize..end as usize])
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Keys {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_one_column() {
        let mut keys = Keys::default();
        for key in ["a", "", "ünï", "b"] {
            keys.push(key);
        }
        assert_eq!(keys, ["a", "", "ünï", "b"]);
        assert_eq!(
            (keys.len(), keys.get(2), keys.get(4)),
            (4, Some("ünï"), None)
        );
    }
}

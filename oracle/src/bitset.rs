//! A growable set of small integers (pod indexes), one bit each.

/// A set of `u32` indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// Whether `i` is in the set.
    #[inline]
    pub fn contains(&self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        self.words.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// Adds or removes `i`.
    #[inline]
    pub fn set(&mut self, i: u32, on: bool) {
        let (w, b) = (i as usize / 64, i % 64);
        if w >= self.words.len() {
            if !on {
                return;
            }
            self.words.resize(w + 1, 0);
        }
        if on {
            self.words[w] |= 1 << b;
        } else {
            self.words[w] &= !(1 << b);
        }
    }

    /// The elements, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut x = word;
            std::iter::from_fn(move || {
                if x == 0 {
                    return None;
                }
                let b = x.trailing_zeros();
                x &= x - 1;
                Some(w as u32 * 64 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_contains_iter() {
        let mut s = BitSet::default();
        for i in [0, 63, 64, 200] {
            s.set(i, true);
        }
        s.set(63, false);
        s.set(10_000, false);
        assert!(s.contains(0) && s.contains(64) && s.contains(200));
        assert!(!s.contains(63) && !s.contains(9_999));
        assert_eq!(s.iter().collect::<Vec<_>>(), [0, 64, 200]);
    }
}

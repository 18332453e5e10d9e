//! Latencies counted in the buckets of an HDR histogram, and nothing else, so that recording one
//! is a few instructions: the histogram every reply goes into is fed from a tally once a second.
//!
//! `Histogram::record` checks the range (and would resize), saturates the count, and keeps the
//! minimum, the maximum and the total, on every reply. A tally computes the bucket, the way HDR
//! does, and adds one; the rest is done once a second. Handing its counts over is exact: each is
//! recorded at a value of its own bucket, which is where the values it counts would have gone.

use hdrhistogram::Histogram;

/// Counts of values, bucketed as in the histograms it is made for.
pub struct Tally {
    counts: Box<[u64]>,
    /// Values counted since the last hand-over.
    len: u64,
    /// The highest value the histograms were asked to track. A value beyond their last bucket
    /// (which reaches a little higher) counts as this, as `saturating_record` would have it.
    highest: u64,
    /// log2 of half the sub-buckets of a bucket: HDR's `sub_bucket_half_count_magnitude`.
    half: u32,
    /// Bucket 0's largest value, all its bits set: OR-ed into a value, it leaves a larger value's
    /// top bit where it is and gives every smaller value bucket 0's.
    floor: u64,
}

impl Tally {
    /// A tally for histograms shaped like `like`, which must discern values from 1.
    pub fn like(like: &Histogram<u64>) -> Self {
        assert_eq!(like.low(), 1, "a tally's buckets start at 1");
        // HDR's sub-buckets per bucket: the power of two that tells 2 × 10^sigfig values apart.
        let sub_buckets = (2 * 10u64.pow(u32::from(like.sigfig()))).next_power_of_two();
        Tally {
            counts: vec![0; like.distinct_values()].into_boxed_slice(),
            len: 0,
            highest: like.high(),
            half: sub_buckets.trailing_zeros() - 1,
            floor: sub_buckets - 1,
        }
    }

    /// Counts `value`.
    #[inline]
    pub fn record(&mut self, value: u64) {
        let mut i = self.index(value);
        if i >= self.counts.len() {
            i = self.index(self.highest);
        }
        self.counts[i] += 1;
        self.len += 1;
    }

    /// Values counted since the last hand-over.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Hands every count over, as `(a value of its bucket, count)`, and starts again from zero.
    pub fn drain(&mut self, mut to: impl FnMut(u64, u64)) {
        if self.len == 0 {
            return;
        }
        for i in 0..self.counts.len() {
            let n = std::mem::take(&mut self.counts[i]);
            if n > 0 {
                to(self.value(i), n);
            }
        }
        self.len = 0;
    }

    /// The bucket of `value`, as HDR numbers them: bucket `b` holds the values whose top bit is
    /// bit `half + b` (bucket 0 everything below), in sub-buckets `1 << b` wide.
    #[inline]
    fn index(&self, value: u64) -> usize {
        let b = 63 - self.half - (value | self.floor).leading_zeros();
        ((b as usize) << self.half) + (value >> b) as usize
    }

    /// The lowest value of bucket `i`'s sub-bucket.
    fn value(&self, i: usize) -> u64 {
        let b = (i >> self.half).saturating_sub(1);
        ((i - (b << self.half)) as u64) << b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use echo_report::new_histogram;

    /// Values at every edge a bucketing can get wrong (each power of two and its neighbours,
    /// up to past the highest tracked), and a spread between them.
    fn edges() -> Vec<u64> {
        let mut v: Vec<u64> = (0..64)
            .flat_map(|bit| {
                let p = 1u64 << bit;
                [p - 1, p, p + 1, p + p / 3]
            })
            .collect();
        v.extend([59_999_999_999, 60_000_000_000, 60_000_000_001, u64::MAX]);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        v.extend((0..10_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every magnitude, not only the huge ones.
            x >> (x % 64)
        }));
        v
    }

    #[test]
    fn handing_over_gives_the_histogram_that_recording_each_value_would() {
        for like in [
            new_histogram(),
            Histogram::new_with_bounds(1, 60_000_000_000, 2).unwrap(),
            Histogram::new_with_bounds(1, 1 << 20, 1).unwrap(),
        ] {
            let (mut direct, mut fed) = (like.clone(), like.clone());
            let mut tally = Tally::like(&like);
            for v in edges() {
                direct.saturating_record(v);
                tally.record(v);
            }
            assert_eq!(tally.len(), direct.len());
            tally.drain(|v, n| fed.saturating_record_n(v, n));
            assert_eq!(tally.len(), 0, "drained");
            assert_eq!(fed.len(), direct.len());
            let buckets = |h: &Histogram<u64>| {
                h.iter_recorded()
                    .map(|b| (b.value_iterated_to(), b.count_at_value()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(buckets(&fed), buckets(&direct), "sigfig {}", like.sigfig());
            assert_eq!(fed.max(), direct.max());
            assert_eq!(fed.min(), direct.min());
        }
    }

    #[test]
    fn a_drained_tally_counts_from_zero_again() {
        let mut tally = Tally::like(&new_histogram());
        tally.record(5);
        tally.drain(|_, _| {});
        tally.record(7);
        let mut got = Vec::new();
        tally.drain(|v, n| got.push((v, n)));
        assert_eq!(got, [(7, 1)]);
    }
}

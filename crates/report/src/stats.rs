//! Statistics across repeated runs: the median of a figure with its confidence interval, and the
//! ratio of two targets' figures with its interval and a verdict.
//!
//! Both intervals are **exact and distribution-free**, computed from order statistics rather than
//! by resampling:
//!
//! - *The median of one target*: with `n` independent repetitions, the interval between the `k`-th
//!   smallest and the `k`-th largest value holds the true median with probability
//!   `1 − 2·P(B ≤ k−1)`, `B ~ Binomial(n, ½)`, whatever the figure's distribution.
//! - *The ratio of two targets*: assuming one target's figure is the other's scaled by a factor
//!   (a shift on a log scale), the interval between the `k`-th smallest and the `k`-th largest of
//!   all `m·n` pairwise ratios holds that factor with probability `1 − 2·P(U ≤ k−1)`, `U` the
//!   Mann–Whitney statistic (the Hodges–Lehmann interval). The point estimate is the median of
//!   those pairwise ratios.
//!
//! Why not the bootstrap: a benchmark repeats each target 3 to 10 times, and at that size a
//! bootstrap interval is coarse and claims more confidence than it has (with 3 repetitions its
//! "95%" interval of the median is min…max, which holds the median only 75% of the time). The
//! exact intervals need no random numbers, so the same data always give the same interval, and
//! they state their real confidence. Some sizes cannot reach 95% at all (5 or fewer repetitions
//! for a median, 3 against 3 for a ratio); then the widest interval is given with the confidence
//! it really has (see [`Interval::confidence`]), never a false 95%.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The confidence asked of every interval: the usual 95%.
pub const CONFIDENCE: f64 = 0.95;

/// Ratio-interval sizes beyond this many pairs (`m·n`) are not computed exactly: the exact null
/// distribution costs `O((m+n)·m·m·n)`, which at 60 × 60 repetitions is still a fraction of a
/// second; nobody repeats a load run more often than that.
const MAX_PAIRS: usize = 3600;

/// The median of `xs` (the mean of the middle two for an even count); `None` if `xs` is empty or
/// holds a NaN.
pub fn median(xs: &[f64]) -> Option<f64> {
    let s = sorted(xs)?;
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The index in `xs` of its median value (the lower of the middle two for an even count): the
/// repetition whose figures stand for all of them.
pub fn median_index(xs: &[f64]) -> Option<usize> {
    sorted(xs)?;
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]).then(a.cmp(&b)));
    Some(order[(xs.len() - 1) / 2])
}

/// The coefficient of variation: the sample standard deviation (`n − 1`) over the mean. `None`
/// for fewer than two values or a mean of zero.
pub fn cv(xs: &[f64]) -> Option<f64> {
    let s = sorted(xs)?;
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    if s.len() < 2 || mean == 0.0 {
        return None;
    }
    let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() / mean.abs())
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// The probability that an interval made this way holds the true value: at least
    /// [`CONFIDENCE`] when the sample allows it, otherwise the most it allows.
    pub confidence: f64,
}

impl Interval {
    /// Whether `x` lies inside, bounds included.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// The exact distribution-free interval for the median of `xs`; `None` if `xs` is empty or holds
/// a NaN. One value gives a point with confidence 0.
pub fn median_interval(xs: &[f64]) -> Option<Interval> {
    let s = sorted(xs)?;
    let n = s.len();
    // P(B = i) for B ~ Binomial(n, 1/2), built up term by term.
    let mut pmf = vec![0.5f64.powi(n as i32)];
    for i in 0..n {
        pmf.push(pmf[i] * (n - i) as f64 / (i + 1) as f64);
    }
    let (k, confidence) = widest_k(&pmf, n.div_ceil(2));
    Some(Interval {
        lo: s[k - 1],
        hi: s[n - k],
        confidence,
    })
}

/// Chooses `k` for an interval from the `k`-th smallest to the `k`-th largest of values whose
/// count below the true value is distributed as `pmf` (symmetric): the largest `k` (the
/// narrowest interval) whose confidence `1 − 2·P(X ≤ k−1)` is at least [`CONFIDENCE`], or `k = 1`
/// with the confidence it has if none is. `k` stays at most `k_max`.
fn widest_k(pmf: &[f64], k_max: usize) -> (usize, f64) {
    let confidence = |k: usize| 1.0 - 2.0 * pmf[..k].iter().sum::<f64>();
    let mut k = 1;
    while k < k_max && confidence(k + 1) >= CONFIDENCE {
        k += 1;
    }
    (k, confidence(k).max(0.0))
}

/// A figure over repeated runs: what a table prints as `101.6k±3.1%`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Repetitions.
    pub n: usize,
    /// Their median.
    pub median: f64,
    /// The median's confidence interval (see [`median_interval`]).
    pub interval: Interval,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Coefficient of variation, `None` for one repetition.
    pub cv: Option<f64>,
}

impl Spread {
    /// The spread of `xs`; `None` if empty or holding a NaN.
    pub fn of(xs: &[f64]) -> Option<Spread> {
        let s = sorted(xs)?;
        Some(Spread {
            n: s.len(),
            median: median(&s)?,
            interval: median_interval(&s)?,
            min: s[0],
            max: s[s.len() - 1],
            cv: cv(&s),
        })
    }

    /// The interval's larger half-width as a fraction of the median (the `3.1%` of
    /// `101.6k±3.1%`); `None` for a median of zero.
    pub fn plus_minus(&self) -> Option<f64> {
        let half = (self.interval.hi - self.median).max(self.median - self.interval.lo);
        (self.median != 0.0).then(|| half / self.median.abs())
    }
}

/// How one target's figure compares with another's across repetitions: `a / b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The median of all pairwise ratios `a_i / b_j` (the Hodges–Lehmann estimate).
    pub estimate: f64,
    /// Its confidence interval.
    pub interval: Interval,
}

/// What a ratio's interval lets one say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `a` is larger than `b`: the whole interval is above 1.
    Larger,
    /// `a` is smaller than `b`: the whole interval is below 1.
    Smaller,
    /// The interval includes 1: this run cannot show a difference.
    Tie,
}

impl Ratio {
    /// The ratio of `a`'s values to `b`'s with its exact interval; `None` if either is empty,
    /// a value is not positive and finite (a ratio needs both), or there are more than
    /// [`MAX_PAIRS`] pairs.
    pub fn of(a: &[f64], b: &[f64]) -> Option<Ratio> {
        let positive = |xs: &[f64]| !xs.is_empty() && xs.iter().all(|x| x.is_finite() && *x > 0.0);
        if !positive(a) || !positive(b) || a.len() * b.len() > MAX_PAIRS {
            return None;
        }
        let mut logs: Vec<f64> = a
            .iter()
            .flat_map(|x| b.iter().map(move |y| x.ln() - y.ln()))
            .collect();
        logs.sort_by(f64::total_cmp);
        let pairs = logs.len();
        let (k, confidence) = widest_k(&mann_whitney_pmf(a.len(), b.len()), pairs.div_ceil(2));
        Some(Ratio {
            estimate: median(&logs)?.exp(),
            interval: Interval {
                lo: logs[k - 1].exp(),
                hi: logs[pairs - k].exp(),
                confidence,
            },
        })
    }

    /// Larger, smaller, or no difference this run can show.
    pub fn verdict(&self) -> Verdict {
        if self.interval.lo > 1.0 {
            Verdict::Larger
        } else if self.interval.hi < 1.0 {
            Verdict::Smaller
        } else {
            Verdict::Tie
        }
    }

    /// A sentence for people: `tokio 1.11× smol [1.04–1.19]`, or with
    /// `: no difference this run can show` when the interval includes 1.
    pub fn describe(&self, a: &str, b: &str) -> String {
        let tail = match self.verdict() {
            Verdict::Tie => ": no difference this run can show",
            _ => "",
        };
        let (factor, interval) = self.parts();
        format!("{a} {factor} {b} {interval}{tail}")
    }

    /// `1.11×` and `[1.04–1.19]`, the interval with its confidence when below [`CONFIDENCE`].
    /// Two decimals, or three when two would round a bound that excludes 1 onto 1.00.
    fn parts(&self) -> (String, String) {
        let Interval { lo, hi, confidence } = self.interval;
        let blurs = |x: f64, d: usize| x != 1.0 && format!("{x:.d$}") == format!("{:.d$}", 1.0);
        let d = if self.verdict() != Verdict::Tie && (blurs(lo, 2) || blurs(hi, 2)) {
            3
        } else {
            2
        };
        let level = if confidence < CONFIDENCE {
            format!(", {:.0}% confidence", confidence * 100.0)
        } else {
            String::new()
        };
        (
            format!("{:.d$}×", self.estimate),
            format!("[{lo:.d$}–{hi:.d$}{level}]"),
        )
    }
}

impl fmt::Display for Ratio {
    /// `1.11× [1.04–1.19]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (factor, interval) = self.parts();
        write!(f, "{factor} {interval}")
    }
}

/// `P(U = u)` for `u = 0 ..= m·n`, `U` the Mann–Whitney statistic of samples of `m` and `n`
/// under the null hypothesis. The number of orderings with `U = u` is the coefficient of `q^u`
/// in the Gaussian binomial `[m+n choose m]_q`, built with the q-Pascal rule
/// `[N, k] = [N−1, k−1] + q^k·[N−1, k]`.
fn mann_whitney_pmf(m: usize, n: usize) -> Vec<f64> {
    let size = m * n + 1;
    // row[k] holds [N, k]_q's coefficients for the current N.
    let mut row = vec![vec![0.0f64; size]; m + 1];
    row[0][0] = 1.0;
    for big_n in 1..=m + n {
        for k in (1..=m.min(big_n)).rev() {
            let mut next = row[k - 1].clone();
            for u in k..size {
                next[u] += row[k][u - k];
            }
            row[k] = next;
        }
    }
    let total: f64 = row[m].iter().sum();
    row[m].iter().map(|c| c / total).collect()
}

/// `xs` sorted; `None` if empty or holding a NaN.
fn sorted(xs: &[f64]) -> Option<Vec<f64>> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn median_min_max_and_cv_of_a_known_sample() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert_eq!(median_index(&[30.0, 10.0, 20.0]), Some(2));
        assert_eq!(
            median_index(&[40.0, 10.0, 30.0, 20.0]),
            Some(3),
            "the lower middle"
        );
        // Mean 5, sample variance (9+1+1+9)/3, sd 2.582, cv 0.5164.
        let c = cv(&[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert!(close(c, (20.0f64 / 3.0).sqrt() / 5.0), "{c}");
        assert_eq!(cv(&[7.0]), None);
        let s = Spread::of(&[9.0, 5.0, 7.0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (3, 7.0, 5.0, 9.0));
    }

    #[test]
    fn median_interval_of_ten_is_second_to_ninth() {
        // P(B ≤ 1) = 11/1024, so k = 2 gives 1 − 22/1024 ≥ 95%; k = 3 would give 89%.
        let xs: Vec<f64> = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5].map(f64::from).to_vec();
        let i = median_interval(&xs).unwrap();
        assert_eq!((i.lo, i.hi), (2.0, 9.0));
        assert!(close(i.confidence, 1.0 - 22.0 / 1024.0), "{}", i.confidence);
    }

    #[test]
    fn small_samples_get_min_to_max_with_their_real_confidence() {
        for (n, confidence) in [(3, 0.75), (5, 1.0 - 2.0 / 32.0), (6, 1.0 - 2.0 / 64.0)] {
            let xs: Vec<f64> = (1..=n).map(f64::from).collect();
            let i = median_interval(&xs).unwrap();
            assert_eq!((i.lo, i.hi), (1.0, f64::from(n)), "n = {n}");
            assert!(close(i.confidence, confidence), "n = {n}: {}", i.confidence);
        }
        let one = median_interval(&[4.0]).unwrap();
        assert_eq!((one.lo, one.hi, one.confidence), (4.0, 4.0, 0.0));
    }

    #[test]
    fn plus_minus_is_the_larger_half_width() {
        let s = Spread::of(&[90.0, 99.0, 100.0, 102.0, 104.0]).unwrap();
        assert!(close(s.plus_minus().unwrap(), 0.10), "{s:?}");
    }

    #[test]
    fn plus_minus_takes_whichever_half_is_the_wider() {
        // Three values: min to max. The median 9 is 8 above the bottom and 1 below the top.
        let s = Spread::of(&[1.0, 9.0, 10.0]).unwrap();
        assert!(close(s.plus_minus().unwrap(), 8.0 / 9.0), "{s:?}");
        // The median 2 is 1 above the bottom and 8 below the top.
        let s = Spread::of(&[1.0, 2.0, 10.0]).unwrap();
        assert!(close(s.plus_minus().unwrap(), 4.0), "{s:?}");
    }

    #[test]
    fn two_values_have_a_cv() {
        // Mean 2, sample sd sqrt(2): the smallest sample a spread can be measured from.
        let c = cv(&[1.0, 3.0]).unwrap();
        assert!(close(c, 2f64.sqrt() / 2.0), "{c}");
    }

    #[test]
    fn an_interval_contains_its_bounds_and_nothing_outside() {
        let i = Interval {
            lo: 2.0,
            hi: 3.0,
            confidence: 0.95,
        };
        assert!(i.contains(2.0) && i.contains(2.5) && i.contains(3.0));
        assert!(!i.contains(1.9) && !i.contains(3.1));
    }

    #[test]
    fn median_interval_of_twenty_is_sixth_to_fifteenth() {
        // P(B ≤ 5) = 21700/2^20, so k = 6 gives 95.9%; k = 7 would give 88.5%. Past k = 2 the
        // binomial's later terms decide k, not only its first two.
        let xs: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        let i = median_interval(&xs).unwrap();
        assert_eq!((i.lo, i.hi), (6.0, 15.0));
        assert!(
            close(i.confidence, 1.0 - 2.0 * 21700.0 / 1_048_576.0),
            "{i:?}"
        );
    }

    #[test]
    fn a_bound_exactly_on_one_is_a_tie() {
        let ratio = |lo, hi| Ratio {
            estimate: 1.1,
            interval: Interval {
                lo,
                hi,
                confidence: 0.95,
            },
        };
        assert_eq!(ratio(1.0, 1.2).verdict(), Verdict::Tie);
        assert_eq!(ratio(0.8, 1.0).verdict(), Verdict::Tie);
    }

    #[test]
    fn exactly_the_asked_confidence_is_not_flagged() {
        let r = Ratio {
            estimate: 1.1,
            interval: Interval {
                lo: 1.05,
                hi: 1.2,
                confidence: CONFIDENCE,
            },
        };
        assert_eq!(r.to_string(), "1.10× [1.05–1.20]");
    }

    #[test]
    fn a_ratio_is_computed_up_to_max_pairs_and_refused_beyond() {
        let one = [1.0];
        let many = vec![1.0; MAX_PAIRS];
        assert!(Ratio::of(&one, &many).is_some(), "exactly MAX_PAIRS pairs");
        let side = vec![1.0; 61]; // 61 × 61 = 3721 pairs, yet 61 + 61 and 61 / 61 are small.
        assert_eq!(Ratio::of(&side, &side), None);
    }

    #[test]
    fn the_null_distribution_matches_known_counts() {
        // 5 against 5: 252 orderings, of which 1, 1, 2, 3, 5 have U = 0..4.
        let p = mann_whitney_pmf(5, 5);
        assert_eq!(p.len(), 26);
        for (u, count) in [1.0, 1.0, 2.0, 3.0, 5.0].iter().enumerate() {
            assert!(close(p[u] * 252.0, *count), "U = {u}: {}", p[u] * 252.0);
        }
        assert!(close(p.iter().sum(), 1.0));
        // 2 against 3: 10 orderings, U = 0..6 with counts 1 1 2 2 2 1 1.
        let p = mann_whitney_pmf(2, 3);
        let counts: Vec<f64> = p.iter().map(|x| (x * 10.0).round()).collect();
        assert_eq!(counts, [1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn a_clear_difference_is_detected() {
        let a = [100.0, 102.0, 104.0, 106.0, 108.0];
        let b = [90.0, 91.0, 92.0, 93.0, 94.0];
        let r = Ratio::of(&a, &b).unwrap();
        // 5 against 5: k = 3 (P(U ≤ 2) = 4/252), so the 3rd smallest to the 3rd largest of the
        // 25 ratios, and the 13th as the estimate.
        assert!(close(r.interval.lo, 102.0 / 94.0), "{r:?}");
        assert!(close(r.interval.hi, 106.0 / 90.0), "{r:?}");
        assert!(close(r.interval.confidence, 1.0 - 8.0 / 252.0));
        assert!(close(r.estimate, 104.0 / 92.0), "{r:?}");
        assert_eq!(r.verdict(), Verdict::Larger);
        assert_eq!(r.describe("tokio", "smol"), "tokio 1.13× smol [1.09–1.18]");
        let back = Ratio::of(&b, &a).unwrap();
        assert_eq!(back.verdict(), Verdict::Smaller);
        assert!(close(back.estimate, 1.0 / r.estimate));
    }

    #[test]
    fn a_tie_is_detected() {
        let a = [100.0, 95.0, 105.0, 98.0, 102.0];
        let b = [101.0, 97.0, 103.0, 99.0, 96.0];
        let r = Ratio::of(&a, &b).unwrap();
        assert_eq!(r.verdict(), Verdict::Tie);
        assert!(r.interval.contains(1.0));
        assert!(close(r.interval.lo, 98.0 / 103.0) && close(r.interval.hi, 102.0 / 96.0));
        assert_eq!(
            r.describe("tokio", "smol"),
            "tokio 1.01× smol [0.95–1.06]: no difference this run can show"
        );
    }

    #[test]
    fn three_against_three_states_its_ninety_percent() {
        // Only 20 orderings: the widest interval (all pairs) is all 3 against 3 allows.
        let r = Ratio::of(&[110.0, 120.0, 115.0], &[100.0, 104.0, 102.0]).unwrap();
        assert!(close(r.interval.lo, 110.0 / 104.0) && close(r.interval.hi, 1.2));
        assert!(close(r.interval.confidence, 0.9));
        assert_eq!(r.to_string(), "1.13× [1.06–1.20, 90% confidence]");
    }

    #[test]
    fn a_bound_near_one_keeps_enough_digits_to_show_which_side() {
        let r = Ratio {
            estimate: 1.02,
            interval: Interval {
                lo: 1.004,
                hi: 1.04,
                confidence: 0.96,
            },
        };
        assert_eq!(r.to_string(), "1.020× [1.004–1.040]");
    }

    #[test]
    fn ratios_need_positive_values() {
        assert_eq!(Ratio::of(&[1.0], &[]), None);
        assert_eq!(Ratio::of(&[1.0, 0.0], &[1.0]), None);
        assert_eq!(Ratio::of(&[1.0], &[f64::INFINITY]), None);
    }

    #[test]
    fn the_same_data_in_any_order_give_the_same_answer() {
        let a = [5.0, 3.0, 4.0, 6.0];
        let b = [2.0, 4.0, 3.0, 5.0];
        let mut a2 = a;
        a2.reverse();
        assert_eq!(Ratio::of(&a, &b), Ratio::of(&a2, &b));
        assert_eq!(Spread::of(&a), Spread::of(&a2));
    }

    /// A small fixed-seed generator (SplitMix64), so the coverage checks below are the same on
    /// every run.
    fn uniform(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A skewed figure (log-normal-ish), as throughput and latency are.
    fn draw(state: &mut u64, scale: f64) -> f64 {
        scale * (1.0 + 0.2 * -uniform(state).ln())
    }

    #[test]
    fn intervals_hold_the_truth_as_often_as_they_claim() {
        const TRIALS: usize = 4000;
        let mut seed = 42;
        // The true median of 1 + 0.2·Exp(1) is 1 + 0.2·ln 2.
        let truth = 1.0 + 0.2 * 2f64.ln();
        let (mut median_hits, mut ties) = (0, 0);
        let mut claimed = (0.0, 0.0);
        for _ in 0..TRIALS {
            let a: Vec<f64> = (0..8).map(|_| draw(&mut seed, 1.0)).collect();
            let b: Vec<f64> = (0..6).map(|_| draw(&mut seed, 1.0)).collect();
            let m = median_interval(&a).unwrap();
            median_hits += usize::from(m.contains(truth));
            let r = Ratio::of(&a, &b).unwrap();
            ties += usize::from(r.verdict() == Verdict::Tie);
            claimed = (m.confidence, r.interval.confidence);
        }
        // 4000 trials: a binomial standard error of about 0.3 points at 96%; allow 1.5.
        let rate = |hits: usize| hits as f64 / TRIALS as f64;
        assert!(claimed.0 >= CONFIDENCE && claimed.1 >= CONFIDENCE);
        assert!(
            (rate(median_hits) - claimed.0).abs() < 0.015,
            "{}",
            rate(median_hits)
        );
        assert!(
            (rate(ties) - claimed.1).abs() < 0.015,
            "{} vs {}",
            rate(ties),
            claimed.1
        );
    }
}

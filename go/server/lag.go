// The loop-lag probe, Go's version of crates/common/src/lag.rs: how late the runtime runs a
// goroutine that is ready. A ticker goroutine asks to wake every lagPeriod (10 ms, as the other
// servers' probes and Node's monitorEventLoopDelay) while connections are open, and records how
// late it woke: the wait of a ready goroutine for a P (a thread allowed to run Go code), plus the
// timer's own delay, which is microseconds.
//
// Why a ticker and not the runtime's own /sched/latencies:seconds (runtime/metrics): that
// histogram samples one scheduling in eight, into buckets a few percent wide, counted from the
// start of the process; the ticker measures the very quantity the other servers' probes measure,
// only while connections are open, with an exact maximum, at the cost of 100 wake-ups a second.

package main

import (
	"math"
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// lagPeriod is how often the probe asks to run (crates/common/src/lag.rs: LAG_PERIOD).
const lagPeriod = 10 * time.Millisecond

// lag keeps lags in buckets about 0.1% wide (like an HDR histogram at 3 digits), so memory stays
// flat however long the run.
type lag struct {
	mu                    sync.Mutex
	buckets               map[uint64]uint64
	samples, total, worst uint64
}

// startLag starts the ticker goroutine, which samples while `active` connections are open and
// ends when `stop` is closed.
func startLag(active *atomic.Int64, stop <-chan struct{}) *lag {
	l := &lag{buckets: make(map[uint64]uint64)}
	go func() {
		ticker := time.NewTicker(lagPeriod)
		defer ticker.Stop()
		for {
			select {
			case due := <-ticker.C:
				if active.Load() > 0 {
					l.record(uint64(time.Since(due).Nanoseconds()))
				}
			case <-stop:
				return
			}
		}
	}()
	return l
}

func (l *lag) record(ns uint64) {
	if ns < 1 {
		ns = 1
	}
	shift := 0
	if width := bits.Len64(ns); width > 11 {
		shift = width - 11
	}
	key := ns >> shift << shift
	l.mu.Lock()
	l.buckets[key]++
	l.samples++
	l.total += ns
	if ns > l.worst {
		l.worst = ns
	}
	l.mu.Unlock()
}

// summary is the loop_lag_ns object of the JSON summary.
func (l *lag) summary() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]uint64, 0, len(l.buckets))
	for k := range l.buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	at := func(q float64) uint64 {
		rank := uint64(math.Max(1, math.Ceil(q*float64(l.samples))))
		seen := uint64(0)
		for _, k := range keys {
			seen += l.buckets[k]
			if seen >= rank {
				return k
			}
		}
		return 0
	}
	mean := uint64(0)
	if l.samples > 0 {
		mean = l.total / l.samples
	}
	return map[string]uint64{"samples": l.samples, "mean": mean, "p50": at(0.5), "p99": at(0.99),
		"p999": at(0.999), "max": l.worst}
}

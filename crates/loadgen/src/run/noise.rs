//! The noise meter: how much of the CPUs a run was pinned to went to something else during its
//! window, read from /proc/stat at the window's start and end.
//!
//! Two things make identical runs differ on a shared virtual machine, and both are measured:
//!
//! - **Steal**: time the hypervisor ran another guest while one of our virtual CPUs wanted to
//!   run (`steal` in /proc/stat). Nothing inside the VM can see it any other way.
//! - **Others**: time the watched CPUs spent running anything but the server and loadgen —
//!   other processes, and kernel threads — in user or system mode. It is those CPUs' busy time
//!   (`user + nice + system`) minus the server's and loadgen's own CPU time over the window.
//!   Interrupt time (`irq`, `softirq`) is left out of both sides: on kernels that account it
//!   separately it is mostly our own loopback traffic, and counting it would blame others for
//!   it. On kernels that charge it to the running task (tick accounting, this project's VM),
//!   that makes the figure slightly low, never falsely high.
//!
//! /proc/stat counts in clock ticks (`USER_HZ`, 100 per second), sampled at each timer tick, so
//! over a window of `s` seconds each CPU's figures carry an error of about a tick or two in
//! `100·s`: a fraction of a percent for the default 10 s window.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use echo_report::Noise;

/// Steal above this share of the watched CPUs' time earns a warning. On the project's VM a
/// quiet machine steals about 0.1%; a CPU-bound server loses the stolen share of its
/// throughput outright, and at 2% that loss reaches the size of the smallest differences the
/// README calls real.
pub const STEAL_LIMIT: f64 = 0.02;

/// Others' use above this share of the watched CPUs' time earns a warning. It is well above the
/// meter's own error (a tick or two per CPU per window, and the gap between tick-sampled busy
/// time and the processes' exact run time), and another process taking 5% of a saturated
/// server's CPU costs it at least that much throughput, plus its caches.
pub const OTHERS_LIMIT: f64 = 0.05;

/// One CPU's time by state since boot, in clock ticks: a `cpuN` line of /proc/stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// The CPU's number.
    pub cpu: usize,
    /// User mode (guest time included, as the kernel counts it).
    pub user: u64,
    /// User mode at low priority.
    pub nice: u64,
    /// Kernel mode.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Idle while I/O was outstanding.
    pub iowait: u64,
    /// Serving hardware interrupts.
    pub irq: u64,
    /// Serving software interrupts.
    pub softirq: u64,
    /// Wanted to run, but the hypervisor ran something else.
    pub steal: u64,
}

impl CpuTimes {
    /// Busy running tasks: user, nice and system.
    fn busy(&self) -> u64 {
        self.user + self.nice + self.system
    }

    /// All the time there was.
    fn total(&self) -> u64 {
        self.busy() + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }

    /// The time from `before` to `self`, state by state.
    fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            cpu: self.cpu,
            user: self.user.saturating_sub(before.user),
            nice: self.nice.saturating_sub(before.nice),
            system: self.system.saturating_sub(before.system),
            idle: self.idle.saturating_sub(before.idle),
            iowait: self.iowait.saturating_sub(before.iowait),
            irq: self.irq.saturating_sub(before.irq),
            softirq: self.softirq.saturating_sub(before.softirq),
            steal: self.steal.saturating_sub(before.steal),
        }
    }
}

/// Parses the per-CPU lines (`cpu0 ...`, `cpu1 ...`) of /proc/stat; the total line and the rest
/// are skipped. Kernels older than 2.6.11 had no steal column: those read as 0.
pub fn parse_proc_stat(text: &str) -> Result<Vec<CpuTimes>> {
    let mut cpus = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields
            .next()
            .and_then(|name| name.strip_prefix("cpu"))
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let cpu: usize = cpu
            .parse()
            .with_context(|| format!("'{line}' does not name a CPU"))?;
        let ticks: Vec<u64> = fields
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("'{line}' holds something other than tick counts"))?;
        if ticks.len() < 7 {
            bail!("'{line}' has {} columns, expected at least 7", ticks.len());
        }
        let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
        cpus.push(CpuTimes {
            cpu,
            user: at(0),
            nice: at(1),
            system: at(2),
            idle: at(3),
            iowait: at(4),
            irq: at(5),
            softirq: at(6),
            steal: at(7),
        });
    }
    if cpus.is_empty() {
        bail!("no per-CPU lines (cpu0, cpu1, ...) found");
    }
    Ok(cpus)
}

/// /proc/stat's figures at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(Vec<CpuTimes>);

impl Snapshot {
    /// Reads /proc/stat now.
    pub fn take() -> Result<Snapshot> {
        let text = fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
        parse_proc_stat(&text)
            .map(Snapshot)
            .context("cannot parse /proc/stat")
    }

    /// From /proc/stat's text.
    #[cfg(test)]
    fn parse(text: &str) -> Result<Snapshot> {
        parse_proc_stat(text).map(Snapshot)
    }
}

/// A noise reading under way: /proc/stat as the window opened.
pub struct Meter {
    before: Snapshot,
}

impl Meter {
    /// Starts a reading; `None` if /proc/stat cannot be read (the meter is a help to the reader,
    /// never a reason to fail a run).
    pub fn start() -> Option<Meter> {
        Snapshot::take().ok().map(|before| Meter { before })
    }

    /// Ends the reading: the noise on the CPUs in `server_cpus` and `client_cpus` (all CPUs
    /// when neither is pinned), given the CPU time the server and loadgen used in the window.
    pub fn stop(
        self,
        server_cpus: &[usize],
        client_cpus: &[usize],
        own: Option<Duration>,
    ) -> Option<Noise> {
        let after = Snapshot::take().ok()?;
        let mut watched: Vec<usize> = server_cpus.iter().chain(client_cpus).copied().collect();
        watched.sort_unstable();
        watched.dedup();
        Some(measure(
            &self.before,
            &after,
            &watched,
            own,
            crate::run::sys::clock_ticks(),
        ))
    }
}

/// The noise over the window from `before` to `after` on `watched` CPUs (all CPUs if empty).
/// `own` is the CPU time the server and loadgen used over the window together, `None` if the
/// server's is unknown (then others' share is unknown too). `ticks_per_sec` is `USER_HZ`.
pub fn measure(
    before: &Snapshot,
    after: &Snapshot,
    watched: &[usize],
    own: Option<Duration>,
    ticks_per_sec: u64,
) -> Noise {
    let mut window = CpuTimes::default();
    let mut cpus = Vec::new();
    for now in &after.0 {
        if !watched.is_empty() && !watched.contains(&now.cpu) {
            continue;
        }
        let Some(then) = before.0.iter().find(|c| c.cpu == now.cpu) else {
            continue;
        };
        let d = now.since(then);
        cpus.push(now.cpu);
        window.user += d.user;
        window.nice += d.nice;
        window.system += d.system;
        window.idle += d.idle;
        window.iowait += d.iowait;
        window.irq += d.irq;
        window.softirq += d.softirq;
        window.steal += d.steal;
    }
    let total = window.total() as f64;
    let share = |ticks: f64| if total > 0.0 { ticks / total } else { 0.0 };
    let others = own.map(|own| {
        let own_ticks = own.as_secs_f64() * ticks_per_sec as f64;
        share((window.busy() as f64 - own_ticks).max(0.0))
    });
    Noise {
        cpus,
        steal: share(window.steal as f64),
        others,
    }
}

/// What a reader should be told about `noise`: one line per limit it exceeds.
pub fn warnings(noise: &Noise) -> Vec<String> {
    let mut lines = Vec::new();
    if noise.steal > STEAL_LIMIT {
        lines.push(format!(
            "the hypervisor stole {:.1}% of CPUs {:?} (over {:.0}%): figures may be low",
            noise.steal * 100.0,
            noise.cpus,
            STEAL_LIMIT * 100.0
        ));
    }
    if let Some(others) = noise.others.filter(|o| *o > OTHERS_LIMIT) {
        lines.push(format!(
            "other processes used {:.1}% of CPUs {:?} (over {:.0}%): figures may be low",
            others * 100.0,
            noise.cpus,
            OTHERS_LIMIT * 100.0
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
cpu  2000 10 1000 5000 20 0 40 6 0 0
cpu0 1000 5 500 2500 10 0 20 3 0 0
cpu1 1000 5 500 2500 10 0 20 3 0 0
intr 2613928 0 0
ctxt 123
";

    /// 10 s later at 100 ticks/s: 1000 ticks per CPU. CPU 0 was busy 900 ticks, in softirq 10
    /// and stolen 30; CPU 1 busy 500, in softirq 10, stolen 20.
    const AFTER: &str = "\
cpu  2980 10 1420 5530 20 0 60 56 0 0
cpu0 1600 5 800 2560 10 0 30 33 0 0
cpu1 1380 5 620 2970 10 0 30 23 0 0
intr 2713928 0 0
";

    #[test]
    fn per_cpu_lines_parse_and_the_rest_is_skipped() {
        let cpus = parse_proc_stat(BEFORE).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[1],
            CpuTimes {
                cpu: 1,
                user: 1000,
                nice: 5,
                system: 500,
                idle: 2500,
                iowait: 10,
                irq: 0,
                softirq: 20,
                steal: 3,
            }
        );
        // A kernel without the steal column.
        let old = parse_proc_stat("cpu3 1 2 3 4 5 6 7\n").unwrap();
        assert_eq!((old[0].cpu, old[0].softirq, old[0].steal), (3, 7, 0));
    }

    #[test]
    fn bad_text_is_refused_with_the_line() {
        let err = format!(
            "{:#}",
            parse_proc_stat("cpu0 1 2 x 4 5 6 7 8\n").unwrap_err()
        );
        assert!(err.contains("cpu0 1 2 x"), "{err}");
        let err = format!("{:#}", parse_proc_stat("cpu0 1 2 3\n").unwrap_err());
        assert!(err.contains("3 columns"), "{err}");
        assert!(parse_proc_stat("intr 1 2\n").is_err());
    }

    #[test]
    fn steal_and_others_over_the_watched_cpus() {
        let (before, after) = (
            Snapshot::parse(BEFORE).unwrap(),
            Snapshot::parse(AFTER).unwrap(),
        );
        // CPU 0 alone: 1000 ticks, 30 stolen, 900 busy; the server used 8.5 s = 850 ticks.
        let server_cpu = measure(
            &before,
            &after,
            &[0],
            Some(Duration::from_millis(8500)),
            100,
        );
        assert_eq!(server_cpu.cpus, [0]);
        assert!((server_cpu.steal - 0.03).abs() < 1e-12, "{server_cpu:?}");
        assert!(
            (server_cpu.others.unwrap() - 0.05).abs() < 1e-12,
            "{server_cpu:?}"
        );
        // Both CPUs: 2000 ticks, 50 stolen, 1400 busy, 1300 of them ours.
        let both = measure(&before, &after, &[], Some(Duration::from_secs(13)), 100);
        assert_eq!(both.cpus, [0, 1]);
        assert!((both.steal - 0.025).abs() < 1e-12, "{both:?}");
        assert!((both.others.unwrap() - 0.05).abs() < 1e-12, "{both:?}");
        // Our own time measured a little above the ticks: nobody else, not a negative share.
        let ours = measure(&before, &after, &[0], Some(Duration::from_secs(10)), 100);
        assert_eq!(ours.others, Some(0.0));
        assert_eq!(measure(&before, &after, &[1], None, 100).others, None);
    }

    #[test]
    fn warnings_start_above_the_limits() {
        let noise = |steal, others| Noise {
            cpus: vec![0, 1],
            steal,
            others,
        };
        assert!(warnings(&noise(STEAL_LIMIT, Some(OTHERS_LIMIT))).is_empty());
        assert!(warnings(&noise(0.001, None)).is_empty());
        let loud = warnings(&noise(0.031, Some(0.12)));
        assert_eq!(loud.len(), 2, "{loud:?}");
        assert!(loud[0].contains("stole 3.1% of CPUs [0, 1]"), "{loud:?}");
        assert!(loud[1].contains("other processes used 12.0%"), "{loud:?}");
    }

    #[test]
    fn this_machine_is_readable() {
        let a = Snapshot::take().unwrap();
        assert!(!a.0.is_empty());
        let noise = measure(&a, &Snapshot::take().unwrap(), &[], None, 100);
        assert!((0.0..=1.0).contains(&noise.steal), "{noise:?}");
    }
}

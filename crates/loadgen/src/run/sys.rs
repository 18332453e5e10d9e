//! What loadgen asks of the operating system: CPU pinning, the descriptor limit, and process
//! accounting from /proc. Linux only, like the rest of the suite.

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result};
use echo_report::Machine;
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::Pid;

/// A set of CPUs, as `--server-cpus` and `--client-cpus` take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl std::str::FromStr for CpuList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_cpu_list(s).map(CpuList)
    }
}

/// Parses `0`, `1,3`, `0-3` or `0-1,4`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim) {
        let bad = || format!("'{s}' is not a CPU list: write e.g. 0, 1,3 or 0-3");
        let (lo, hi): (usize, usize) = match part.split_once('-') {
            Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
            None => {
                let n = part.parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// CPUs online on the machine (not just the ones this thread may use).
pub fn online_cpus() -> usize {
    fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(s.trim()).ok())
        .map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |cpus| cpus.len(),
        )
}

/// Pins the calling thread (and the threads and processes it creates from now on) to `cpus`.
/// An empty list leaves it alone.
pub fn pin_current_thread(cpus: &[usize]) -> Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)
            .with_context(|| format!("CPU {cpu} is out of range"))?;
    }
    sched_setaffinity(Pid::from_raw(0), &set)
        .with_context(|| format!("cannot pin to CPUs {cpus:?}"))
}

/// Descriptors loadgen and a server need beyond one per client: stdio, the listener, the
/// runtime's epoll and wake-up descriptors, log files.
const FD_HEADROOM: u64 = 64;

/// A number of clients this machine cannot hold: each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TooFew {
    /// More clients than descriptors.
    #[error(
        "--clients {clients} needs about {needed} file descriptors, but this process may open at \
         most {hard} (the hard limit, `ulimit -Hn`). Lower --clients to {fit} or less, or raise \
         the hard limit (as root: `ulimit -Hn {needed}` in the shell that runs loadgen, or a \
         nofile entry in /etc/security/limits.conf)"
    )]
    Descriptors {
        /// Clients asked for.
        clients: usize,
        /// Descriptors they need.
        needed: u64,
        /// The hard limit.
        hard: u64,
        /// The most clients that fit.
        fit: u64,
    },
    /// More clients than local ports.
    #[error(
        "--clients {clients} needs more local ports than the {ports} in \
         net.ipv4.ip_local_port_range ({range}) per source address; lower --clients, widen \
         the range, or add source addresses with --bind"
    )]
    Ports {
        /// Clients asked for.
        clients: usize,
        /// Ports in the range.
        ports: usize,
        /// The range, as the kernel prints it.
        range: String,
    },
}

/// Raises the soft descriptor limit to the hard one (children inherit it), then checks that
/// `clients` connections fit in it and in the local port range (once per source address, with
/// `--bind`); refuses with what to do if not.
pub fn ensure_fds_for(clients: usize, sources: usize) -> Result<(), TooFew> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((0, u64::MAX));
    if soft < hard {
        // If this fails the check below still tells the truth about what fits.
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let hard = getrlimit(Resource::RLIMIT_NOFILE).map_or(hard, |(soft, _)| soft);
    let needed = clients as u64 + FD_HEADROOM;
    if needed > hard {
        return Err(TooFew::Descriptors {
            clients,
            needed,
            hard,
            fit: hard.saturating_sub(FD_HEADROOM),
        });
    }
    if let Some((lo, hi)) = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<usize>().ok());
            Some((it.next()??, it.next()??))
        })
    {
        let ports = (hi.saturating_sub(lo) + 1) * sources;
        if clients > ports {
            return Err(TooFew::Ports {
                clients,
                ports,
                range: format!("{lo}-{hi}"),
            });
        }
    }
    Ok(())
}

/// A process's resource use at one moment, from /proc/PID/{stat,status}.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
    /// Threads.
    pub threads: u64,
}

impl ProcStat {
    /// Reads `pid`'s figures; `None` for this process.
    pub fn read(pid: Option<u32>) -> Result<ProcStat> {
        let dir = pid.map_or_else(|| "/proc/self".to_owned(), |p| format!("/proc/{p}"));
        let stat = fs::read_to_string(format!("{dir}/stat"))
            .with_context(|| format!("cannot read {dir}/stat"))?;
        let status = fs::read_to_string(format!("{dir}/status"))
            .with_context(|| format!("cannot read {dir}/status"))?;
        parse_proc(&stat, &status, clock_ticks())
            .with_context(|| format!("cannot parse {dir}/stat or status"))
    }

    /// CPU time, user and system together.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

/// Clock ticks per second (`USER_HZ`): the unit of /proc's CPU times.
pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// Parses /proc/PID/stat (utime and stime, fields 14 and 15, in clock ticks) and
/// /proc/PID/status (VmRSS, VmHWM in kB; Threads).
pub fn parse_proc(stat: &str, status: &str, ticks_per_sec: u64) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may hold spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so field n is at index n - 3.
    let ticks = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let to_duration = |t: u64| Duration::from_nanos(t * 1_000_000_000 / ticks_per_sec);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    Some(ProcStat {
        user: to_duration(ticks(14)?),
        system: to_duration(ticks(15)?),
        rss_bytes: field("VmRSS:")? * 1024,
        peak_rss_bytes: field("VmHWM:")? * 1024,
        threads: field("Threads:")?,
    })
}

/// The machine, for the result file.
pub fn machine() -> Machine {
    let read = |path: &str| {
        fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let cpu_model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu_model,
        cores: online_cpus(),
        kernel: read("/proc/sys/kernel/osrelease"),
        hostname: read("/proc/sys/kernel/hostname"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0"), Ok(vec![0]));
        assert_eq!(parse_cpu_list("0-2,5,1"), Ok(vec![0, 1, 2, 5]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn proc_accounting_parses_the_kernel_layout() {
        // A real line's shape, with a command name holding spaces and a parenthesis.
        let stat = "4242 (echo (srv) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 1000 \
                    123456 789 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let status = "Name:\techo\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\nThreads:\t3\n";
        let p = parse_proc(stat, status, 100).unwrap();
        assert_eq!(p.user, Duration::from_millis(2500));
        assert_eq!(p.system, Duration::from_millis(750));
        assert_eq!(p.cpu(), Duration::from_millis(3250));
        assert_eq!(
            (p.rss_bytes, p.peak_rss_bytes, p.threads),
            (1 << 20, 2 << 20, 3)
        );
        assert_eq!(parse_proc("garbage", status, 100), None);
    }

    #[test]
    fn this_process_is_readable() {
        let me = ProcStat::read(None).unwrap();
        assert!(me.threads >= 1 && me.rss_bytes > 0 && me.peak_rss_bytes >= me.rss_bytes);
    }

    #[test]
    fn too_many_clients_are_refused_with_the_limit() {
        let err = format!("{:#}", ensure_fds_for(10_000_000, 1).unwrap_err());
        assert!(
            err.contains("hard limit") && err.contains("ulimit -Hn"),
            "{err}"
        );
        ensure_fds_for(10, 1).unwrap();
    }
}

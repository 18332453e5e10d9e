//! Why an io_uring runtime cannot start here, in words a user can act on.

use std::io;

/// The cause and the fix for `e`, an error from creating an io_uring instance.
pub fn uring_unavailable(e: &io::Error) -> String {
    let fix = match e.raw_os_error() {
        Some(libc::ENOSYS) => {
            "this kernel has no io_uring: it needs Linux 5.6 or later built with CONFIG_IO_URING"
        }
        Some(libc::EPERM | libc::EACCES) => {
            "io_uring is disabled: allow it with `sysctl kernel.io_uring_disabled=0`, or run \
             outside the sandbox (a container's seccomp profile) that forbids it"
        }
        Some(libc::ENOMEM) => {
            "not enough locked memory for io_uring's rings: raise the limit with `ulimit -l` \
             (e.g. `ulimit -l unlimited`)"
        }
        _ => "io_uring is not usable here",
    };
    format!("cannot create an io_uring instance ({e}): {fix}")
}

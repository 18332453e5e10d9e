//! `echo-server TARGET [FLAGS]`: runs any of the suite's servers by name.

fn main() -> std::process::ExitCode {
    echo_targets::server_main(std::env::args_os().skip(1))
}

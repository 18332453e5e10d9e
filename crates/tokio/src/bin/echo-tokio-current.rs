//! The `echo-tokio-current` server binary; the server itself is the `echo_tokio` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_tokio::TARGET_CURRENT)
}

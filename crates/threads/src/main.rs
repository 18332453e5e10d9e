//! The `echo-threads` server binary; the server itself is the `echo_threads` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_threads::TARGET)
}

//! The `echo-blocking` server binary; the server itself is the `echo_blocking` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_blocking::TARGET)
}

//! The `echo-async-std` server binary; the server itself is the `echo_async_std` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_async_std::TARGET)
}

//! The `echo-mio` server binary; the server itself is the `echo_mio` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_mio::TARGET)
}

//! The `echo-monoio` server binary; the server itself is the `echo_monoio` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_monoio::TARGET)
}

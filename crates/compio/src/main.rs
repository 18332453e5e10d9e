//! The `echo-compio` server binary; the server itself is the `echo_compio` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_compio::TARGET)
}

//! The `echo-smol` server binary; the server itself is the `echo_smol` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_smol::TARGET)
}

//! The `echo-thread-pool` server binary; the server itself is the `echo_thread_pool` library.
fn main() -> std::process::ExitCode {
    echo_common::main(&echo_thread_pool::TARGET)
}

//! Program targets (the Python, Go and Node.js servers) without what they need: `echo-server`
//! refuses to start one with a line that says what is missing and how to install it, rather than
//! a traceback or a hang. Runs whether or not the set-up has run, by pointing each program's
//! variable at an interpreter or binary that is not there.

use std::process::{Command, Stdio};

#[test]
fn a_program_target_without_its_interpreter_says_how_to_set_it_up() {
    for program in echo_targets::PROGRAMS {
        let out = Command::new(env!("CARGO_BIN_EXE_echo-server"))
            .arg(program.target.name)
            .args(["--addr", "127.0.0.1:0"])
            .env(program.env(), "/nonexistent/echo-bench/program")
            .stdin(Stdio::null())
            .output()
            .expect("run echo-server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: {stderr}", program.target.name);
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout, where loadgen waits for `listening on`"
        );
        assert!(
            stderr.contains("/nonexistent/echo-bench/program")
                && stderr.contains(program.setup)
                && program.setup.starts_with(echo_targets::SETUP),
            "{}: the error names the interpreter or binary and the set-up command: {stderr}",
            program.target.name
        );
    }
}

#[test]
fn a_program_target_cannot_be_mistaken_for_an_in_process_one() {
    for program in echo_targets::PROGRAMS {
        let config = echo_common::Config::on("127.0.0.1:0".parse().unwrap());
        let context =
            echo_common::Context::new(config.clone(), echo_common::Shutdown::new()).unwrap();
        let listener = echo_common::bind(&config).unwrap();
        let err = (program.target.serve)(listener, context).unwrap_err();
        assert!(err.to_string().contains("program of its own"), "{err}");
    }
}

//! Broken pipes (`routesim … | head`): the reader of our output went away, which is
//! not a failure. `println!` panics on such a write; the panic hook installed here
//! turns exactly that panic into a quiet exit 0, and [`is_broken_pipe`] recognises
//! the same condition in an error. Every command writes its files before it prints,
//! so nothing is left half-written when output stops early.

/// Whether a panic message is `println!`/`eprintln!` failing on a closed pipe.
fn is_broken_pipe_panic(msg: &str) -> bool {
    msg.starts_with("failed printing to std")
        && (msg.contains("Broken pipe") || msg.contains("os error 32"))
}

/// Install a panic hook that exits quietly with code 0 when the panic is a write to a
/// closed stdout or stderr; every other panic is reported as before.
pub fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_broken_pipe_panic(msg) {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Whether an error is (caused by) a write to a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_closed_pipes_only() {
        assert!(is_broken_pipe_panic(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(is_broken_pipe_panic(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe_panic(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_broken_pipe_panic("index out of bounds"));
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the table");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}

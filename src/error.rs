//! Exit codes and the one place errors become messages and codes.

/// SPEC §4: 0 success; 1 the work ran but something failed; 2 bad input or
/// usage; 3 environment (lock, network, git). A run stopped by a signal
/// exits as shells expect of one: 128 + the signal's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    WorkFailed = 1,
    BadInput = 2,
    Environment = 3,
    /// Stopped by SIGINT (Ctrl-C).
    Interrupted = 130,
    /// Stopped by SIGTERM.
    Terminated = 143,
}

impl From<Code> for std::process::ExitCode {
    fn from(c: Code) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

/// An error with a chosen exit code and an optional hint.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Fail {
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
}

pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    Fail {
        code: Code::BadInput,
        message: message.into(),
        hint: None,
    }
    .into()
}

pub fn environment(message: impl Into<String>) -> anyhow::Error {
    Fail {
        code: Code::Environment,
        message: message.into(),
        hint: None,
    }
    .into()
}

pub fn with_hint(code: Code, message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Fail {
        code,
        message: message.into(),
        hint: Some(hint.into()),
    }
    .into()
}

/// The exit code for an error that reached `main`.
pub fn code_of(e: &anyhow::Error) -> Code {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<Fail>() {
            return f.code;
        }
        if let Some(c) = cause.downcast_ref::<crate::consolidate::ConsolidateError>() {
            return c.code();
        }
        if cause.is::<crate::config::ConfigError>()
            || cause.is::<crate::plan::LoadError>()
            || cause.is::<crate::plan::encoding::DecodeError>()
        {
            return Code::BadInput;
        }
        if cause.is::<git2::Error>() {
            return Code::Environment;
        }
    }
    Code::Environment
}

/// The hint attached anywhere in the chain.
pub fn hint_of(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|c| {
        if let Some(f) = c.downcast_ref::<Fail>() {
            return f.hint.clone();
        }
        c.downcast_ref::<crate::consolidate::ConsolidateError>()
            .and_then(|c| c.hint())
    })
}

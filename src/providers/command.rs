//! Writer that runs an external agent command: the prompt goes to its stdin,
//! the file content comes from its stdout, within a timeout. A non-zero exit
//! fails with the tail of its stderr. Stdout is capped at `writer.max_bytes`
//! (past it the command's process group is killed and the request fails) and
//! only the tail of stderr is kept, so a runaway command cannot grow memory.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::prompt::estimate_tokens;
use super::{BoxFuture, ProviderError, Usage, WriteRequest, Writer, Written};

/// How much of stderr a failure reports.
const STDERR_TAIL: usize = 2048;

/// Process groups of the writer commands running now, so that a signal to
/// expand can end them (and whatever they started) before expand exits.
static RUNNING: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// A running writer's group, in [`RUNNING`] until it is dropped.
struct Registered(Option<u32>);

impl Registered {
    fn new(pid: Option<u32>) -> Registered {
        if let Some(p) = pid {
            RUNNING.lock().expect("writer list lock").push(p);
        }
        Registered(pid)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            RUNNING
                .lock()
                .expect("writer list lock")
                .retain(|q| *q != p);
            // Dropped before the command ended (a timeout, a cancelled
            // PART): its group must not outlive it.
            kill_group(Some(p));
        }
    }
}

/// End every writer command still running, with what it started. Returns
/// how many there were.
pub fn kill_all() -> usize {
    let pids = std::mem::take(&mut *RUNNING.lock().expect("writer list lock"));
    for p in &pids {
        kill_group(Some(*p));
    }
    pids.len()
}

pub struct CommandWriter {
    argv: Vec<String>,
    model: String,
    timeout: Duration,
    /// Most bytes of stdout accepted.
    max_bytes: usize,
}

/// Why reading the command's output stopped early.
enum Stop {
    Io(String),
    /// Stdout passed `max_bytes`.
    TooLarge,
}

impl CommandWriter {
    pub fn new(cfg: &crate::config::Writer) -> Result<CommandWriter, ProviderError> {
        let argv = cfg.command.clone().unwrap_or_default();
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(ProviderError::Config(
                "writer.command is required for writer kind `command` (for example [\"my-agent\", \"--print\"])".into(),
            ));
        }
        let model = cfg.model.clone().unwrap_or_else(|| argv[0].clone());
        Ok(CommandWriter {
            argv,
            model,
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
            max_bytes: usize::try_from(cfg.max_bytes.max(1)).unwrap_or(usize::MAX),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> CommandWriter {
        self.timeout = timeout;
        self
    }

    async fn run(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        let program = self.argv[0].clone();
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so a timeout also ends whatever it started.
        #[cfg(unix)]
        cmd.process_group(0);
        tracing::debug!(program = %program, args = self.argv.len() - 1, "starting writer command");
        let mut child = cmd.spawn().map_err(|e| ProviderError::Command {
            program: program.clone(),
            code: "no start".into(),
            stderr_tail: format!("cannot start `{program}`: {e}"),
        })?;
        let pid = child.id();
        let _registered = Registered::new(pid);
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let input = req.prompt.clone().into_bytes();
        let max = self.max_bytes;
        let work = async {
            // Feed stdin while draining stdout/stderr, or a chatty child deadlocks.
            let feed = async move {
                // A child that exits without reading its input is not our failure.
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
                Ok::<_, Stop>(())
            };
            // The first to fail (stdout over its cap) ends the others.
            let (_, out, err) = tokio::try_join!(
                feed,
                read_capped(&mut stdout, max),
                read_tail(&mut stderr, STDERR_TAIL)
            )?;
            let status = child.wait().await.map_err(|e| Stop::Io(e.to_string()))?;
            Ok::<_, Stop>((status, out, err))
        };
        let (status, out, err) = match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(r)) => r,
            Ok(Err(Stop::Io(message))) => {
                kill_group(pid);
                return Err(ProviderError::Command {
                    program,
                    code: "i/o error".into(),
                    stderr_tail: message,
                });
            }
            Ok(Err(Stop::TooLarge)) => {
                kill_group(pid);
                return Err(ProviderError::BadResponse {
                    what: format!("writer command `{program}`"),
                    message: format!(
                        "it printed more than {max} bytes (writer.max_bytes) on stdout and was stopped"
                    ),
                });
            }
            Err(_) => {
                kill_group(pid);
                return Err(ProviderError::Timeout {
                    what: format!("writer command `{program}`"),
                    secs: self.timeout.as_secs_f64().ceil() as u64,
                });
            }
        };
        if !status.success() {
            let code = match status.code() {
                Some(c) => c.to_string(),
                None => "a signal".into(),
            };
            return Err(ProviderError::Command {
                program,
                code,
                stderr_tail: tail(&err),
            });
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        if text.trim().is_empty() {
            return Err(ProviderError::BadResponse {
                what: format!("writer command `{program}`"),
                message: "it printed nothing on stdout".into(),
            });
        }
        Ok(Written {
            usage: Usage::new(estimate_tokens(&req.prompt), estimate_tokens(&text)),
            text,
            model: self.model.clone(),
            // A command says nothing of how it ended: its output is the file.
            finish: super::Finish::Stop,
        })
    }
}

/// All of `r`, or `Stop::TooLarge` as soon as it passes `max` bytes.
async fn read_capped(r: &mut (impl AsyncRead + Unpin), max: usize) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| Stop::Io(e.to_string()))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > max {
            return Err(Stop::TooLarge);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The last bytes of `r` (at least `keep`, at most twice that), read to its end.
async fn read_tail(r: &mut (impl AsyncRead + Unpin), keep: usize) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| Stop::Io(e.to_string()))?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > 2 * keep {
            out.drain(..out.len() - keep);
        }
    }
}

/// The last `STDERR_TAIL` bytes of stderr, cut on a character boundary.
fn tail(err: &[u8]) -> String {
    let s = String::from_utf8_lossy(err);
    let s = s.trim_end();
    if s.len() <= STDERR_TAIL {
        return s.to_string();
    }
    let mut start = s.len() - STDERR_TAIL;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 1) {
        // The child leads its own group (`process_group(0)`), so `-pid` names
        // exactly that group; `pid > 1` keeps this from ever becoming kill(-1)
        // or kill(0). The child itself is also killed on drop.
        // SAFETY: kill(2) takes plain integers and touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

impl Writer for CommandWriter {
    fn name(&self) -> &str {
        "command"
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn write<'a>(&'a self, req: &'a WriteRequest) -> BoxFuture<'a, Result<Written, ProviderError>> {
        Box::pin(self.run(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        let long = "x".repeat(5000) + "the end";
        let t = tail(long.as_bytes());
        assert!(t.ends_with("the end") && t.len() <= STDERR_TAIL + 4);
        assert_eq!(tail(b"short\n"), "short");
    }
}

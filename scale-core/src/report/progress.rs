//! Progress for long work: a bar on a terminal, plain lines otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// A progress indicator written to standard error.
///
/// ```
/// let mut p = scale_core::report::Progress::new("cases", 100);
/// for _ in 0..100 { p.inc(1); }
/// p.finish();
/// ```
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    tty: bool,
    started: Instant,
    last_shown: u64,
}

impl Progress {
    /// Start counting `total` steps of `label`.
    pub fn new(label: &str, total: u64) -> Progress {
        Progress {
            label: label.to_string(),
            total: total.max(1),
            done: 0,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_shown: u64::MAX,
        }
    }

    /// Record `n` more steps.
    pub fn inc(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        let pct = self.done * 100 / self.total;
        if self.tty {
            if pct != self.last_shown {
                self.last_shown = pct;
                let width = 30;
                let filled = (self.done * width / self.total) as usize;
                let elapsed = self.started.elapsed().as_secs_f64();
                let eta = if self.done > 0 {
                    elapsed * (self.total - self.done) as f64 / self.done as f64
                } else {
                    0.0
                };
                eprint!(
                    "\r{} [{}{}] {:>3}% ({}/{}) eta {:.0}s ",
                    self.label,
                    "#".repeat(filled),
                    ".".repeat(width as usize - filled),
                    pct,
                    self.done,
                    self.total,
                    eta
                );
                let _ = std::io::stderr().flush();
            }
        } else if pct / 10 != self.last_shown / 10 || self.last_shown == u64::MAX {
            self.last_shown = pct;
            eprintln!("{}: {}% ({}/{})", self.label, pct, self.done, self.total);
        }
    }

    /// Finish the line with the elapsed time.
    pub fn finish(&mut self) {
        let secs = self.started.elapsed().as_secs_f64();
        if self.tty {
            eprintln!();
        }
        eprintln!("{}: done, {} steps in {:.1}s", self.label, self.done, secs);
    }
}

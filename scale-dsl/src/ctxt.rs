//! The error accumulator threaded through parse and check.
//!
//! Every stage reports into one [`Ctxt`] instead of returning early, so a single run reports
//! every mistake at once (as serde_derive's `Ctxt`). Each error remembers the statement it was
//! found in, so a caller that built the program from something other than tokens (the
//! generator's JSON layers) can say which of its own items is wrong.

/// One reported error and the statement it belongs to.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Index into [`Program::stmts`](crate::Program::stmts), or `None` for the whole program.
    pub stmt: Option<usize>,
    /// The error, spanned at the offending tokens.
    pub error: syn::Error,
}

/// Collects errors across stages; [`Ctxt::finish`] combines them into one `syn::Error`.
#[derive(Debug, Default)]
pub struct Ctxt {
    errors: Vec<Diagnostic>,
    stmt: Option<usize>,
}

impl Ctxt {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attribute the errors that follow to statement `stmt` (`None`: the whole program).
    pub fn at_stmt(&mut self, stmt: Option<usize>) {
        self.stmt = stmt;
    }

    /// Record an error in the current statement.
    pub fn error(&mut self, error: syn::Error) {
        self.errors.push(Diagnostic {
            stmt: self.stmt,
            error,
        });
    }

    /// Whether any error was recorded so far.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors recorded so far, in the order they were found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.errors
    }

    /// Every error, with its statement.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.errors
    }

    /// `Ok` if nothing was reported, else every error combined (rustc shows each at its span).
    pub fn finish(self) -> Result<(), syn::Error> {
        let mut errs = self.errors.into_iter().map(|d| d.error);
        match errs.next() {
            None => Ok(()),
            Some(mut first) => {
                first.extend(errs);
                Err(first)
            }
        }
    }
}

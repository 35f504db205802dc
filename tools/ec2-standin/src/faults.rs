//! Faults a test injects: error answers, a connection reset after the request was applied,
//! added latency, each for the next N matching calls, optionally only at page K of a
//! pagination.

use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer an EC2 error document with this HTTP status and code, without applying.
    Error {
        /// HTTP status, for example 500 or 503.
        status: u16,
        /// EC2 error code, for example `InternalError`, `Unavailable`.
        code: String,
    },
    /// Apply the request, then drop the connection without answering: the duplicate-launch
    /// trap for a client that retries without its idempotency token.
    ResetAfterApply,
    /// Answer normally, this much later.
    Latency(Duration),
}

impl Fault {
    /// HTTP 500 `InternalError`.
    pub fn internal_error() -> Fault {
        Fault::Error {
            status: 500,
            code: "InternalError".to_owned(),
        }
    }

    /// HTTP 503 `Unavailable`.
    pub fn unavailable() -> Fault {
        Fault::Error {
            status: 503,
            code: "Unavailable".to_owned(),
        }
    }
}

/// A fault armed for the next `times` calls of `action` (at page `page` only, when set).
#[derive(Debug, Clone)]
pub struct Rule {
    /// The EC2 action it applies to.
    pub action: String,
    /// What goes wrong.
    pub fault: Fault,
    /// Calls it still applies to.
    pub times: usize,
    /// Only the page with this 1-based number of a describe pagination.
    pub page: Option<usize>,
}

/// The armed rules, first armed first.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Vec<Rule>,
}

impl Faults {
    /// Arms a rule.
    pub fn arm(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// The fault for this call, if a rule matches; uses one of its `times`.
    pub fn take(&mut self, action: &str, page: usize) -> Option<Fault> {
        let index = self
            .rules
            .iter()
            .position(|r| r.action == action && r.times > 0 && r.page.is_none_or(|p| p == page))?;
        let rule = &mut self.rules[index];
        rule.times -= 1;
        let fault = rule.fault.clone();
        if rule.times == 0 {
            self.rules.remove(index);
        }
        Some(fault)
    }
}

//! API key roles and what each may do. Keys are scoped to one ledger, except
//! instance-wide admin keys (such as the bootstrap key).

use super::CoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Creates ledgers (instance-wide keys only) and keys; may also do all of the below.
    Admin,
    /// Posts entries and opens accounts; reads.
    Writer,
    /// Reads accounts, balances, events and reports.
    Reader,
    /// Reads, exports the chain and fetches proofs.
    Auditor,
}

/// What a request wants to do, for authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateLedger,
    ManageKeys,
    Write,
    Read,
    Export,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        match s {
            "admin" => Ok(Self::Admin),
            "writer" => Ok(Self::Writer),
            "reader" => Ok(Self::Reader),
            "auditor" => Ok(Self::Auditor),
            _ => Err(CoreError::InvalidField {
                field: "role",
                reason: "expected admin, writer, reader or auditor".into(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Writer => "writer",
            Self::Reader => "reader",
            Self::Auditor => "auditor",
        }
    }

    /// Whether this role may do `action` within its scope. Creating ledgers is also
    /// limited to instance-wide keys, which the HTTP layer checks.
    pub fn permits(self, action: Action) -> bool {
        match self {
            Self::Admin => true,
            Self::Writer => matches!(action, Action::Write | Action::Read),
            Self::Reader => matches!(action, Action::Read),
            Self::Auditor => matches!(action, Action::Read | Action::Export),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_exactly_its_actions() {
        use Action::*;
        let table = [
            (Role::Admin, [true, true, true, true, true]),
            (Role::Writer, [false, false, true, true, false]),
            (Role::Reader, [false, false, false, true, false]),
            (Role::Auditor, [false, false, false, true, true]),
        ];
        for (role, expected) in table {
            let got = [CreateLedger, ManageKeys, Write, Read, Export].map(|a| role.permits(a));
            assert_eq!(got, expected, "{role:?}");
        }
    }
}

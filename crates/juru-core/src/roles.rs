//! Roles and what each may do. A role is granted to a user in one workspace; an API token carries
//! one role in one workspace. Every endpoint and every desk service asks [`Role::allows`].

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The roles of DESIGN.md, one per job desk plus `admin` and `viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    PromptEngineer,
    BiasReviewer,
    Reviewer,
    Annotator,
    DialogDesigner,
    ComplianceOfficer,
    MlEngineer,
    RedTeamer,
    Integrator,
    Viewer,
}

/// What a permission is about: a shared object kind, workspace administration, or a desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Members, role grants and other people's tokens of a workspace.
    Members,
    /// The hash-chained audit log.
    Audit,
    AiSystems,
    Datasets,
    Traces,
    Scores,
    Jobs,
    Models,
    Desk(Desk),
}

/// The ten desks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Desk {
    Prompts,
    Bias,
    Review,
    Labeling,
    Dialogs,
    Governance,
    Optimize,
    Redteam,
    Workflows,
    Experiments,
}

/// Reading or changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Write,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::Admin,
        Role::PromptEngineer,
        Role::BiasReviewer,
        Role::Reviewer,
        Role::Annotator,
        Role::DialogDesigner,
        Role::ComplianceOfficer,
        Role::MlEngineer,
        Role::RedTeamer,
        Role::Integrator,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::PromptEngineer => "prompt_engineer",
            Role::BiasReviewer => "bias_reviewer",
            Role::Reviewer => "reviewer",
            Role::Annotator => "annotator",
            Role::DialogDesigner => "dialog_designer",
            Role::ComplianceOfficer => "compliance_officer",
            Role::MlEngineer => "ml_engineer",
            Role::RedTeamer => "red_teamer",
            Role::Integrator => "integrator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Role, CoreError> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| CoreError::UnknownRole(s.to_owned()))
    }

    /// The desk this role works at, if it has one of its own.
    pub fn desks(self) -> &'static [Desk] {
        match self {
            Role::PromptEngineer => &[Desk::Prompts],
            Role::BiasReviewer => &[Desk::Bias],
            Role::Reviewer => &[Desk::Review],
            Role::Annotator => &[Desk::Labeling],
            Role::DialogDesigner => &[Desk::Dialogs],
            Role::ComplianceOfficer => &[Desk::Governance],
            Role::MlEngineer => &[Desk::Optimize, Desk::Experiments],
            Role::RedTeamer => &[Desk::Redteam],
            Role::Integrator => &[Desk::Workflows],
            Role::Admin | Role::Viewer => &[],
        }
    }

    /// Whether this role may take `action` in `area`. The table is deliberately explicit so that
    /// a reviewer can read the whole policy here.
    pub fn allows(self, area: Area, action: Action) -> bool {
        use Action::*;
        use Role::*;
        if self == Admin {
            return true;
        }
        match (area, action) {
            (Area::Members, _) => false,
            (Area::Audit, Read) => self == ComplianceOfficer,
            (Area::Audit, Write) => false,
            // Everyone in a workspace sees its shared objects and desks.
            (_, Read) => true,
            (Area::Datasets, Write) => !matches!(self, Viewer | ComplianceOfficer),
            (Area::Traces, Write) => {
                matches!(self, PromptEngineer | DialogDesigner | MlEngineer | RedTeamer | Integrator)
            }
            (Area::Scores, Write) => !matches!(self, Viewer | ComplianceOfficer),
            (Area::Jobs, Write) => matches!(self, MlEngineer),
            (Area::Models, Write) => matches!(self, MlEngineer),
            (Area::AiSystems, Write) => matches!(self, ComplianceOfficer | Integrator),
            (Area::Desk(desk), Write) => self.desks().contains(&desk),
        }
    }
}

impl Area {
    /// How messages name the area: `datasets`, `audit log`, `the prompts desk`.
    pub fn describe(self) -> String {
        match self {
            Area::Members => "workspace members".into(),
            Area::Audit => "the audit log".into(),
            Area::AiSystems => "AI systems".into(),
            Area::Datasets => "datasets".into(),
            Area::Traces => "traces".into(),
            Area::Scores => "scores".into(),
            Area::Jobs => "jobs".into(),
            Area::Models => "models".into(),
            Area::Desk(d) => format!("the {} desk", d.as_str()),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Desk {
    pub const ALL: [Desk; 10] = [
        Desk::Prompts,
        Desk::Bias,
        Desk::Review,
        Desk::Labeling,
        Desk::Dialogs,
        Desk::Governance,
        Desk::Optimize,
        Desk::Redteam,
        Desk::Workflows,
        Desk::Experiments,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Desk::Prompts => "prompts",
            Desk::Bias => "bias",
            Desk::Review => "review",
            Desk::Labeling => "labeling",
            Desk::Dialogs => "dialogs",
            Desk::Governance => "governance",
            Desk::Optimize => "optimize",
            Desk::Redteam => "redteam",
            Desk::Workflows => "workflows",
            Desk::Experiments => "experiments",
        }
    }

    pub fn parse(s: &str) -> Option<Desk> {
        Desk::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        let err = Role::parse("owner").unwrap_err().to_string();
        assert!(err.contains("unknown role \"owner\"") && err.contains("annotator"), "{err}");
    }

    #[test]
    fn each_desk_has_a_role_that_may_write_it() {
        for desk in Desk::ALL {
            let writers: Vec<_> =
                Role::ALL.into_iter().filter(|r| r.allows(Area::Desk(desk), Action::Write)).collect();
            assert!(writers.len() >= 2, "{desk:?} writable by {writers:?}");
            assert!(!Role::Viewer.allows(Area::Desk(desk), Action::Write));
        }
    }

    #[test]
    fn audit_is_for_admins_and_compliance_only() {
        let readers: Vec<_> = Role::ALL.into_iter().filter(|r| r.allows(Area::Audit, Action::Read)).collect();
        assert_eq!(readers, vec![Role::Admin, Role::ComplianceOfficer]);
        assert!(Role::ALL.into_iter().all(|r| r == Role::Admin || !r.allows(Area::Audit, Action::Write)));
    }
}

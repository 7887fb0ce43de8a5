//! Who is acting, in which workspace, with which roles.

use juru_core::{Action, Area, Role};

use crate::DeskError;

/// How the actor proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session,
    Token {
        token_id: String,
    },
    /// A job running on behalf of the user who started it.
    Job {
        job_id: String,
    },
    /// The operator at the command line, or Juru itself (seeding, workers).
    System,
}

/// The acting principal of one request or command.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub roles: Vec<Role>,
    /// A server administrator: acts as `admin` in every workspace.
    pub is_admin: bool,
    pub via: Via,
    pub locale: String,
}

impl Actor {
    /// Whether any of the actor's roles allows `action` in `area`.
    pub fn can(&self, area: Area, action: Action) -> bool {
        self.is_admin || self.roles.iter().any(|r| r.allows(area, action))
    }

    pub fn require(&self, area: Area, action: Action) -> Result<(), DeskError> {
        if self.can(area, action) {
            return Ok(());
        }
        let roles = if self.roles.is_empty() {
            "(none)".to_string()
        } else {
            self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        };
        let area = area.describe();
        let action = match action {
            Action::Read => "read",
            Action::Write => "change",
        };
        Err(DeskError::Forbidden { roles, action, area })
    }

    /// Only server administrators (workspace creation, user accounts).
    pub fn require_server_admin(&self) -> Result<(), DeskError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(DeskError::Forbidden {
                roles: self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                action: "change",
                area: "server settings (server administrators only)".into(),
            })
        }
    }

    /// The actor as the audit log names it.
    pub fn audit_name(&self) -> String {
        match &self.via {
            Via::Token { token_id } => format!("user:{} (token {token_id})", self.username),
            Via::Session => format!("user:{}", self.username),
            Via::Job { job_id } => format!("user:{} (job {job_id})", self.username),
            Via::System if self.user_id.is_empty() => self.username.clone(),
            Via::System => format!("user:{} (cli)", self.username),
        }
    }

    /// Juru itself, acting as an administrator in a workspace (seeding, workers, the CLI).
    pub fn system(workspace_id: &str, workspace_name: &str) -> Actor {
        Actor {
            user_id: String::new(),
            username: "system".into(),
            workspace_id: workspace_id.to_owned(),
            workspace_name: workspace_name.to_owned(),
            roles: vec![Role::Admin],
            is_admin: true,
            via: Via::System,
            locale: "en".into(),
        }
    }
}

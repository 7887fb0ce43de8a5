//! Workspaces, user accounts and role grants.

use juru_core::names::{validate_name, validate_slug};
use juru_core::{Action, Area, Role};
use juru_store::audit::NewAudit;
use juru_store::users::UserChanges;
use serde_json::json;

use crate::auth::hash_password;
use crate::views::{
    CreateUser, CreateWorkspace, GrantRequest, MemberView, UpdateUser, UserView, WorkspaceView,
};
use crate::{Actor, DeskError, Desks, Result};

/// The languages of the web UI.
pub const LOCALES: [&str; 2] = ["en", "id"];

/// Hashes a password, when there is one, off the async threads (argon2id takes tens of ms).
async fn hash_optional(password: &Option<String>) -> Result<Option<String>> {
    match password {
        Some(pw) => {
            let pw = pw.clone();
            Ok(Some(
                tokio::task::spawn_blocking(move || hash_password(&pw))
                    .await
                    .map_err(DeskError::internal)??,
            ))
        }
        None => Ok(None),
    }
}

impl Desks {
    /// Creates a workspace (server administrators only).
    pub async fn create_workspace(&self, actor: &Actor, req: &CreateWorkspace) -> Result<WorkspaceView> {
        actor.require_server_admin()?;
        validate_slug("workspace name", &req.name)?;
        let display = req.display_name.clone().unwrap_or_else(|| req.name.clone());
        validate_name("workspace display name", &display)?;
        let mut tx = self.store.write().await?;
        let ws =
            tx.insert_workspace(&req.name, &display, req.description.as_deref().unwrap_or_default()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&ws.id),
            actor: &actor.audit_name(),
            action: "workspace.create",
            object_kind: "workspace",
            object_id: &ws.id,
            summary: json!({"after": {"name": ws.name, "display_name": ws.display_name}}),
        })
        .await?;
        tx.commit().await?;
        Ok(ws.into())
    }

    /// The workspaces the actor's user may enter.
    pub async fn workspaces(&self, actor: &Actor) -> Result<Vec<WorkspaceView>> {
        let is_admin = actor.is_admin;
        Ok(self.store.workspaces_of(&actor.user_id, is_admin).await?.into_iter().map(Into::into).collect())
    }

    pub async fn members(&self, actor: &Actor) -> Result<Vec<MemberView>> {
        actor.require(Area::Members, Action::Read)?;
        Ok(self
            .store
            .members(&actor.workspace_id)
            .await?
            .into_iter()
            .map(|m| MemberView { user: m.user.into(), roles: m.roles })
            .collect())
    }

    /// Creates a user account and grants it roles in the actor's workspace.
    pub async fn create_user(&self, actor: &Actor, req: &CreateUser) -> Result<MemberView> {
        actor.require(Area::Members, Action::Write)?;
        if req.is_admin {
            actor.require_server_admin()?;
        }
        validate_slug("username", &req.username)?;
        let display = req.display_name.clone().unwrap_or_else(|| req.username.clone());
        validate_name("display name", &display)?;
        let roles = req.roles.iter().map(|r| Role::parse(r)).collect::<Result<Vec<_>, _>>()?;
        let hash = hash_optional(&req.password).await?;
        let mut tx = self.store.write().await?;
        let user = tx.insert_user(&req.username, &display, hash.as_deref(), req.is_admin).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "user.create",
            object_kind: "user",
            object_id: &user.id,
            summary: json!({"after": {"username": user.username, "is_admin": req.is_admin}}),
        })
        .await?;
        for role in &roles {
            tx.insert_grant(&actor.workspace_id, &user.id, role.as_str()).await?;
            tx.audit(NewAudit {
                workspace_id: Some(&actor.workspace_id),
                actor: &actor.audit_name(),
                action: "grant.add",
                object_kind: "user",
                object_id: &user.id,
                summary: json!({"after": {"username": user.username, "role": role.as_str()}}),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(MemberView { user: user.into(), roles: roles.iter().map(|r| r.as_str().to_owned()).collect() })
    }

    /// Changes a user. People may change their own name, language and password; the rest
    /// needs the right to manage members.
    pub async fn update_user(&self, actor: &Actor, username: &str, req: &UpdateUser) -> Result<UserView> {
        let user = self.store.user_by_name(username).await?;
        if user.id != actor.user_id || req.disabled.is_some() {
            actor.require(Area::Members, Action::Write)?;
        }
        if let Some(name) = &req.display_name {
            validate_name("display name", name)?;
        }
        if let Some(locale) = &req.locale
            && !LOCALES.contains(&locale.as_str())
        {
            return Err(DeskError::invalid(format!(
                "locale {locale:?} is not one of: {}",
                LOCALES.join(", ")
            )));
        }
        let password_hash = hash_optional(&req.password).await?;
        let changes = UserChanges {
            display_name: req.display_name.clone(),
            locale: req.locale.clone(),
            disabled: req.disabled,
            password_hash,
        };
        let mut tx = self.store.write().await?;
        tx.update_user(&user.id, &changes).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "user.update",
            object_kind: "user",
            object_id: &user.id,
            summary: json!({
                "before": {"display_name": user.display_name, "locale": user.locale, "disabled": user.disabled != 0},
                "after": {"display_name": req.display_name, "locale": req.locale, "disabled": req.disabled,
                          "password_changed": req.password.is_some()},
            }),
        })
        .await?;
        tx.commit().await?;
        Ok(self.store.user(&user.id).await?.into())
    }

    pub async fn grant(&self, actor: &Actor, req: &GrantRequest) -> Result<MemberView> {
        self.change_grant(actor, req, true).await
    }

    pub async fn revoke_grant(&self, actor: &Actor, req: &GrantRequest) -> Result<MemberView> {
        self.change_grant(actor, req, false).await
    }

    async fn change_grant(&self, actor: &Actor, req: &GrantRequest, add: bool) -> Result<MemberView> {
        actor.require(Area::Members, Action::Write)?;
        let role = Role::parse(&req.role)?;
        let user = self.store.user_by_name(&req.username).await?;
        let mut tx = self.store.write().await?;
        if add {
            tx.insert_grant(&actor.workspace_id, &user.id, role.as_str()).await?;
        } else {
            tx.delete_grant(&actor.workspace_id, &user.id, role.as_str()).await?;
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: if add { "grant.add" } else { "grant.remove" },
            object_kind: "user",
            object_id: &user.id,
            summary: json!({"username": user.username, "role": role.as_str()}),
        })
        .await?;
        tx.commit().await?;
        let roles = self.store.roles_of(&actor.workspace_id, &user.id).await?;
        Ok(MemberView { user: user.into(), roles })
    }
}

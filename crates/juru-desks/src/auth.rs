//! Authentication: passwords (argon2id), web sessions with CSRF tokens, and API tokens.
//! Secrets are random and shown once; Juru stores only their SHA-256 (tokens, session ids) or
//! argon2id (passwords) hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use juru_core::{Action, Area, Role};
use juru_store::audit::NewAudit;
use juru_store::now_ms;
use juru_store::users::{ApiToken, Session, User};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::actor::Via;
use crate::views::{CreateToken, CreatedToken, TokenView};
use crate::{Actor, DeskError, Desks, Result};

/// How long a web session lasts.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
/// The shortest password Juru accepts.
pub const MIN_PASSWORD_LEN: usize = 10;

/// A logged-in session: the cookie value and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
    pub user: User,
}

/// A random secret of `bytes` bytes, hex encoded.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(DeskError::invalid(format!("password must be at least {MIN_PASSWORD_LEN} characters")));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| DeskError::invalid(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| DeskError::invalid(e.to_string()))?
        .to_string())
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

impl Desks {
    /// Checks a username and password and opens a session. Failed attempts are audited too.
    pub async fn login(&self, username: &str, password: &str) -> Result<NewSession> {
        let user = self.store.user_by_name(username).await.ok();
        let ok = match &user {
            Some(u) if u.disabled == 0 => {
                let (hash, pw) = (u.password_hash.clone(), password.to_owned());
                tokio::task::spawn_blocking(move || hash.is_some_and(|h| password_matches(&h, &pw)))
                    .await
                    .map_err(DeskError::internal)?
            }
            _ => false,
        };
        let mut tx = self.store.write().await?;
        let Some(user) = user.filter(|_| ok) else {
            tx.audit(NewAudit {
                workspace_id: None,
                actor: &format!("user:{username}"),
                action: "user.login_failed",
                object_kind: "user",
                object_id: username,
                summary: json!({}),
            })
            .await?;
            tx.commit().await?;
            return Err(DeskError::Unauthenticated);
        };
        let workspace_id =
            self.store.workspaces_of(&user.id, user.is_admin != 0).await?.first().map(|w| w.id.clone());
        let cookie = random_secret(32);
        let session = Session {
            id_hash: sha256_hex(&cookie),
            user_id: user.id.clone(),
            workspace_id,
            csrf_token: random_secret(24),
            created_at: now_ms(),
            expires_at: now_ms() + SESSION_MS,
        };
        tx.insert_session(&session).await?;
        tx.audit(NewAudit {
            workspace_id: session.workspace_id.as_deref(),
            actor: &format!("user:{}", user.username),
            action: "user.login",
            object_kind: "user",
            object_id: &user.id,
            summary: json!({}),
        })
        .await?;
        tx.commit().await?;
        Ok(NewSession { cookie, csrf_token: session.csrf_token, user })
    }

    pub async fn logout(&self, actor: &Actor, cookie: &str) -> Result<()> {
        let mut tx = self.store.write().await?;
        tx.delete_session(&sha256_hex(cookie)).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "user.logout",
            object_kind: "user",
            object_id: &actor.user_id,
            summary: json!({}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The actor behind a session cookie, with its CSRF token. `workspace` picks one of the
    /// user's workspaces by name; otherwise the session's current one.
    pub async fn actor_from_session(&self, cookie: &str) -> Result<(Actor, String)> {
        let (session, user) =
            self.store.session(&sha256_hex(cookie)).await?.ok_or(DeskError::Unauthenticated)?;
        if user.disabled != 0 {
            return Err(DeskError::Unauthenticated);
        }
        let workspaces = self.store.workspaces_of(&user.id, user.is_admin != 0).await?;
        let ws = session
            .workspace_id
            .as_ref()
            .and_then(|id| workspaces.iter().find(|w| &w.id == id))
            .or_else(|| workspaces.first())
            .ok_or_else(|| DeskError::invalid("you have no role in any workspace; ask an administrator"))?;
        let roles = self.roles(&ws.id, &user.id).await?;
        let actor = Actor {
            user_id: user.id.clone(),
            username: user.username.clone(),
            workspace_id: ws.id.clone(),
            workspace_name: ws.name.clone(),
            roles,
            is_admin: user.is_admin != 0,
            via: Via::Session,
            locale: user.locale.clone(),
        };
        Ok((actor, session.csrf_token))
    }

    /// Moves a session to another of the user's workspaces.
    pub async fn switch_workspace(&self, actor: &Actor, cookie: &str, workspace: &str) -> Result<()> {
        let workspaces = self.store.workspaces_of(&actor.user_id, actor.is_admin).await?;
        let ws = workspaces
            .iter()
            .find(|w| w.name == workspace || w.id == workspace)
            .ok_or_else(|| DeskError::NotFound { kind: "workspace", key: workspace.to_owned() })?;
        let mut tx = self.store.write_operational().await?;
        tx.set_session_workspace(&sha256_hex(cookie), &ws.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The actor behind an API token. A token stops working when its user is disabled or no
    /// longer holds the token's role in the workspace.
    pub async fn actor_from_token(&self, token: &str) -> Result<Actor> {
        let auth = self.store.token_auth(&sha256_hex(token)).await?.ok_or(DeskError::Unauthenticated)?;
        if auth.disabled != 0 || (auth.is_admin == 0 && auth.holds_role == 0) {
            return Err(DeskError::Unauthenticated);
        }
        let role = Role::parse(&auth.role).map_err(|_| DeskError::Unauthenticated)?;
        Ok(Actor {
            user_id: auth.user_id,
            username: auth.username,
            workspace_id: auth.workspace_id,
            workspace_name: auth.workspace_name,
            roles: vec![role],
            // A token acts with its one role, even for a server administrator.
            is_admin: false,
            via: Via::Token { token_id: auth.token_id },
            locale: auth.locale,
        })
    }

    pub(crate) async fn roles(&self, workspace_id: &str, user_id: &str) -> Result<Vec<Role>> {
        let names = self.store.roles_of(workspace_id, user_id).await?;
        Ok(names.iter().filter_map(|r| Role::parse(r).ok()).collect())
    }

    /// Creates an API token in the actor's workspace. People may make tokens for themselves
    /// with a role they hold; administrators for anyone, with any role.
    pub async fn create_token(&self, actor: &Actor, req: &CreateToken) -> Result<CreatedToken> {
        juru_core::names::validate_name("token name", &req.name)?;
        let role = Role::parse(&req.role)?;
        let owner = match &req.username {
            Some(name) if name != &actor.username => {
                actor.require(Area::Members, Action::Write)?;
                self.store.user_by_name(name).await?
            }
            _ => self.store.user(&actor.user_id).await.map_err(|_| {
                DeskError::invalid("the system actor has no user; name the token's user with --user")
            })?,
        };
        let is_admin = actor.can(Area::Members, Action::Write);
        if !is_admin && !actor.roles.contains(&role) {
            return Err(DeskError::Forbidden {
                roles: actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                action: "create",
                area: format!("tokens with the role {role}"),
            });
        }
        // An administrator's token for someone carries a role they hold; grant it if missing.
        let held = self.store.roles_of(&actor.workspace_id, &owner.id).await?;
        let secret = format!("juru_{}", random_secret(24));
        let now = now_ms();
        let token = ApiToken {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            user_id: owner.id.clone(),
            name: req.name.clone(),
            role: role.as_str().to_owned(),
            token_hash: sha256_hex(&secret),
            prefix: secret[..12].to_owned(),
            created_at: now,
            expires_at: req.expires_in_days.map(|d| now + d.max(1) * 86_400_000),
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.store.write().await?;
        if owner.is_admin == 0 && !held.iter().any(|r| r == role.as_str()) {
            tx.insert_grant(&actor.workspace_id, &owner.id, role.as_str()).await?;
            tx.audit(NewAudit {
                workspace_id: Some(&actor.workspace_id),
                actor: &actor.audit_name(),
                action: "grant.add",
                object_kind: "user",
                object_id: &owner.id,
                summary: json!({"after": {"username": owner.username, "role": role.as_str()}}),
            })
            .await?;
        }
        tx.insert_token(&token).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "token.create",
            object_kind: "token",
            object_id: &token.id,
            summary: json!({"after": {"name": token.name, "role": token.role, "user": owner.username, "prefix": token.prefix}}),
        })
        .await?;
        tx.commit().await?;
        Ok(CreatedToken { token: secret, info: token.into() })
    }

    /// Tokens of the workspace: all for administrators, one's own otherwise.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenView>> {
        let only = (!actor.can(Area::Members, Action::Read)).then_some(actor.user_id.as_str());
        Ok(self.store.tokens(&actor.workspace_id, only).await?.into_iter().map(Into::into).collect())
    }

    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<TokenView> {
        let mine =
            self.store.tokens(&actor.workspace_id, Some(&actor.user_id)).await?.iter().any(|t| t.id == id);
        if !mine {
            actor.require(Area::Members, Action::Write)?;
        }
        let mut tx = self.store.write().await?;
        let token = tx.revoke_token(&actor.workspace_id, id).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "token.revoke",
            object_kind: "token",
            object_id: id,
            summary: json!({"before": {"name": token.name, "role": token.role}}),
        })
        .await?;
        tx.commit().await?;
        Ok(token.into())
    }
}

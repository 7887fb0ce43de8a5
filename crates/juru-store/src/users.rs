//! People and credentials: users, role grants, API tokens (stored as hashes) and web sessions.

use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Store, WriteTx, now_ms};
use crate::error::{Result, StoreError};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub is_admin: i64,
    pub locale: String,
    pub disabled: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A user with the roles they hold in one workspace.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user: User,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ApiToken {
    pub id: String,
    pub workspace_id: String,
    pub user_id: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub token_hash: String,
    /// The first characters of the token, to tell tokens apart in lists.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What authenticating a token needs, read in one query.
#[derive(Debug, Clone, FromRow)]
pub struct TokenAuth {
    pub token_id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub role: String,
    pub user_id: String,
    pub username: String,
    pub locale: String,
    pub is_admin: i64,
    pub disabled: i64,
    /// Whether the user still holds the token's role in its workspace (0 or 1).
    pub holds_role: i64,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub workspace_id: Option<String>,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Fields of a user that may change.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

impl WriteTx {
    pub async fn insert_user(
        &mut self,
        username: &str,
        display_name: &str,
        password_hash: Option<&str>,
        is_admin: bool,
    ) -> Result<User> {
        let now = now_ms();
        let user = User {
            id: juru_core::ids::new_id(),
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            password_hash: password_hash.map(str::to_owned),
            is_admin: i64::from(is_admin),
            locale: "en".into(),
            disabled: 0,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, is_admin, locale, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(user.password_hash.clone())
        .bind(user.is_admin)
        .bind(&user.locale)
        .bind(now)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("user", username))?;
        Ok(user)
    }

    pub async fn update_user(&mut self, id: &str, changes: &UserChanges) -> Result<()> {
        self.touched.auth = true;
        let n = sqlx::query(
            "UPDATE users SET display_name = COALESCE($2, display_name), locale = COALESCE($3, locale), \
             disabled = COALESCE($4, disabled), password_hash = COALESCE($5, password_hash), updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(changes.display_name.clone())
        .bind(changes.locale.clone())
        .bind(changes.disabled.map(i64::from))
        .bind(changes.password_hash.clone())
        .bind(now_ms())
        .execute(&mut **self)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found("user", id));
        }
        Ok(())
    }

    /// Grants a role; granting one already held is a conflict.
    pub async fn insert_grant(&mut self, workspace_id: &str, user_id: &str, role: &str) -> Result<()> {
        self.touched.auth = true;
        sqlx::query(
            "INSERT INTO role_grants (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role)
        .bind(now_ms())
        .execute(&mut **self)
        .await
        .map_err(StoreError::conflict_on_unique("role grant", role))?;
        Ok(())
    }

    pub async fn delete_grant(&mut self, workspace_id: &str, user_id: &str, role: &str) -> Result<()> {
        self.touched.auth = true;
        let n = sqlx::query("DELETE FROM role_grants WHERE workspace_id = $1 AND user_id = $2 AND role = $3")
            .bind(workspace_id)
            .bind(user_id)
            .bind(role)
            .execute(&mut **self)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found("role grant", role));
        }
        Ok(())
    }

    pub async fn insert_token(&mut self, token: &ApiToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, workspace_id, user_id, name, role, token_hash, prefix, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.id)
        .bind(&token.workspace_id)
        .bind(&token.user_id)
        .bind(&token.name)
        .bind(&token.role)
        .bind(&token.token_hash)
        .bind(&token.prefix)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    pub async fn revoke_token(&mut self, workspace_id: &str, id: &str) -> Result<ApiToken> {
        self.touched.auth = true;
        let token: ApiToken = sqlx::query_as(
            "UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING *",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&mut **self)
        .await?
        .ok_or_else(|| StoreError::not_found("token", id))?;
        Ok(token)
    }

    pub async fn insert_session(&mut self, session: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, workspace_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.id_hash)
        .bind(&session.user_id)
        .bind(session.workspace_id.clone())
        .bind(&session.csrf_token)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    pub async fn delete_session(&mut self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&mut **self).await?;
        Ok(())
    }

    pub async fn set_session_workspace(&mut self, id_hash: &str, workspace_id: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET workspace_id = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(workspace_id)
            .execute(&mut **self)
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn user_by_name(&self, username: &str) -> Result<User> {
        sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("user", username))
    }

    pub async fn user(&self, id: &str) -> Result<User> {
        sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("user", id))
    }

    /// How many server administrators there are (the demo's simulated people are not).
    pub async fn admin_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin <> 0")
            .fetch_one(self.pool())
            .await?)
    }

    /// Roles the user holds in the workspace.
    pub async fn roles_of(&self, workspace_id: &str, user_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT role FROM role_grants WHERE workspace_id = $1 AND user_id = $2 ORDER BY role",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Everyone with a role in the workspace.
    pub async fn members(&self, workspace_id: &str) -> Result<Vec<Member>> {
        let users: Vec<User> = sqlx::query_as(
            "SELECT * FROM users WHERE id IN (SELECT user_id FROM role_grants WHERE workspace_id = $1) ORDER BY username",
        )
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(users.len());
        for user in users {
            let roles = self.roles_of(workspace_id, &user.id).await?;
            out.push(Member { user, roles });
        }
        Ok(out)
    }

    /// A live token with its user, workspace and whether the user still holds its role: the
    /// one query behind every API request.
    /// What a live token resolves to. Answers are kept in memory (see [`crate::hot`]); a kept
    /// one is used only before its token expires.
    pub async fn token_auth(&self, token_hash: &str) -> Result<Option<TokenAuth>> {
        let kept = &self.hot.tokens;
        if let Some(auth) = kept.get(token_hash).filter(|a| a.expires_at.is_none_or(|t| t > now_ms())) {
            return Ok(Some(auth));
        }
        let generation = kept.generation();
        let auth: Option<TokenAuth> = sqlx::query_as(
            "SELECT t.id AS token_id, t.workspace_id, w.name AS workspace_name, t.role, u.id AS user_id, u.username, \
             u.locale, u.is_admin, u.disabled, t.expires_at, \
             (SELECT COUNT(*) FROM role_grants g WHERE g.workspace_id = t.workspace_id AND g.user_id = t.user_id \
              AND g.role = t.role) AS holds_role \
             FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN workspaces w ON w.id = t.workspace_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        if let Some(a) = &auth {
            kept.put(token_hash.to_owned(), a.clone(), generation);
        }
        Ok(auth)
    }

    /// Tokens of a workspace, optionally only one user's.
    pub async fn tokens(&self, workspace_id: &str, user_id: Option<&str>) -> Result<Vec<ApiToken>> {
        let rows = match user_id {
            Some(uid) => {
                sqlx::query_as(
                    "SELECT * FROM api_tokens WHERE workspace_id = $1 AND user_id = $2 ORDER BY id DESC",
                )
                .bind(workspace_id)
                .bind(uid)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query_as("SELECT * FROM api_tokens WHERE workspace_id = $1 ORDER BY id DESC")
                    .bind(workspace_id)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        Ok(rows)
    }

    /// A live session by its hash.
    pub async fn session(&self, id_hash: &str) -> Result<Option<(Session, User)>> {
        let session: Option<Session> =
            sqlx::query_as("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now_ms())
                .fetch_optional(self.pool())
                .await?;
        let Some(session) = session else { return Ok(None) };
        let user = self.user(&session.user_id).await?;
        Ok(Some((session, user)))
    }
}

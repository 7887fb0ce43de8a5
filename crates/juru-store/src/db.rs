//! The store handle: a connection pool on SQLite or PostgreSQL, write transactions that carry
//! their audit entries, and a small builder for queries with numbered parameters.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Arguments, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Result, StoreError};
use crate::hot::{Hot, Touched};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to Juru's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time, and a deferred transaction that reads before it writes
    /// fails with SQLITE_BUSY when another writer committed in between. Serialising writers of
    /// this process avoids that; PostgreSQL needs no such lock.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Answers to the reads every delivery request makes (see [`crate::hot`]).
    pub(crate) hot: Arc<Hot>,
}

/// Milliseconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    /// Opens the database at `url` (`sqlite://PATH` or `postgres://…`) and runs migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(format!(
                "database URL must start with sqlite: or postgres:, got {:?}",
                url.split(':').next().unwrap_or_default()
            )));
        };
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // The busy timeout first: switching to WAL takes a lock, and
                            // connections opened in a burst would otherwise fail at once
                            // with "database is locked".
                            conn.execute(
                                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                                 PRAGMA cache_size = -65536",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?
            }
        };
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let store = Store { pool, backend, write_lock, hot: Arc::default() };
        crate::migrations::run(&store).await?;
        Ok(store)
    }

    /// The SQLite URL for a database file, created when missing.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction whose commit requires an audit entry.
    pub async fn write(&self) -> Result<WriteTx> {
        self.begin(true).await
    }

    /// Starts a write transaction for operational state (sessions, job progress, leases) that
    /// is not itself an audit event.
    pub async fn write_operational(&self) -> Result<WriteTx> {
        self.begin(false).await
    }

    async fn begin(&self, audited: bool) -> Result<WriteTx> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        // On SQLite a write transaction takes the write lock when it begins (waiting out the busy
        // timeout), not at its first write: a deferred transaction that has read and then finds
        // another connection still holding the lock (say, one whose rollback is still queued
        // after a dropped transaction) fails at once with "database is locked".
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _guard: guard,
            needs_audit: audited,
            audited: false,
            backend: self.backend,
            hot: self.hot.clone(),
            touched: Touched::default(),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A write transaction. Dereferences to a connection for the store's functions.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _guard: Option<OwnedMutexGuard<()>>,
    needs_audit: bool,
    pub(crate) audited: bool,
    pub(crate) backend: Backend,
    hot: Arc<Hot>,
    /// Tables with kept answers that this transaction changed, forgotten once it commits.
    pub(crate) touched: Touched,
}

impl WriteTx {
    /// Commits; fails with [`StoreError::Unaudited`] (and rolls back) when this transaction
    /// needed an audit entry and got none.
    pub async fn commit(self) -> Result<()> {
        if self.needs_audit && !self.audited {
            self.tx.rollback().await?;
            return Err(StoreError::Unaudited);
        }
        self.tx.commit().await?;
        self.hot.committed(self.touched);
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// A query under construction. Each bound value gets its own placeholder, written in the text
/// in the order of binding: `$N` on PostgreSQL, plain `?` on SQLite. (SQLite looks named and
/// numbered parameters up by a linear search, so a 1,000-parameter `$N` statement costs a
/// quadratic prepare; `?` does not: a multi-row insert runs about 5 times faster.)
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: AnyArguments<'static>,
    n: usize,
    backend: Backend,
}

impl Sql {
    pub(crate) fn new(backend: Backend, text: impl Into<String>) -> Self {
        Sql { text: text.into(), args: AnyArguments::default(), n: 0, backend }
    }

    /// Binds a value and returns its placeholder, which must be written into the text before
    /// the next value is bound, and used once.
    pub(crate) fn bind<T>(&mut self, value: T) -> String
    where
        T: 'static + sqlx::Encode<'static, Any> + sqlx::Type<Any> + Send,
    {
        self.n += 1;
        // Adding to AnyArguments only fails for types Any cannot carry, which the bound rules out.
        let _ = self.args.add(value);
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}", self.n),
        }
    }

    /// Appends text.
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends `text` with one bound value, written where `text` has `{}`.
    pub(crate) fn push_bind<T>(&mut self, text: &str, value: T) -> &mut Self
    where
        T: 'static + sqlx::Encode<'static, Any> + sqlx::Type<Any> + Send,
    {
        let p = self.bind(value);
        self.text.push_str(&text.replacen("{}", &p, 1));
        self
    }

    pub(crate) async fn fetch_all<'c, E>(self, executor: E) -> Result<Vec<sqlx::any::AnyRow>>
    where
        E: Executor<'c, Database = Any>,
    {
        Ok(sqlx::query_with(&self.text, self.args).fetch_all(executor).await?)
    }

    pub(crate) async fn fetch_optional<'c, E>(self, executor: E) -> Result<Option<sqlx::any::AnyRow>>
    where
        E: Executor<'c, Database = Any>,
    {
        Ok(sqlx::query_with(&self.text, self.args).fetch_optional(executor).await?)
    }

    /// Runs the statement and returns the number of rows it changed.
    pub(crate) async fn execute<'c, E>(self, executor: E) -> Result<u64, sqlx::Error>
    where
        E: Executor<'c, Database = Any>,
    {
        Ok(sqlx::query_with(&self.text, self.args).execute(executor).await?.rows_affected())
    }
}

//! Test databases: a fresh SQLite file or a fresh PostgreSQL database for each test, dropped
//! afterwards. PostgreSQL comes from `JURU_TEST_DATABASE_URL` (any database on the server; the
//! test creates its own beside it), else `postgres://postgres@127.0.0.1:5432/test`. A test that
//! cannot reach PostgreSQL fails: it never skips.

use sqlx::Connection;

use crate::{Backend, Store};

/// The server that PostgreSQL tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("JURU_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database that lives as long as the value.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    backend: Backend,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("creating a temporary directory");
                let url = Store::sqlite_url(&dir.path().join("juru.db"));
                let store = Store::open(&url).await.expect("opening a SQLite test database");
                TestDb { store, url, backend, pg_name: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("juru_test_{}", uuid_simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL tests need a server: could not connect to {admin}: {e}. \
                         Set JURU_TEST_DATABASE_URL or run scripts/test, which starts one"
                    )
                });
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("creating a PostgreSQL test database");
                let mut url = url::Url::parse(&admin).expect("JURU_TEST_DATABASE_URL is not a URL");
                url.set_path(&name);
                let url = url.to_string();
                let store = Store::open(&url).await.expect("opening the PostgreSQL test database");
                TestDb { store, url, backend, pg_name: Some(name), _dir: None }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn cleanup(mut self) {
        self.store.close().await;
        if let Some(name) = self.pg_name.take() {
            let admin = postgres_admin_url();
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::Executor::execute(
                    &mut conn,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                )
                .await;
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A test that panicked before `cleanup` still drops its database.
        if let Some(name) = self.pg_name.take() {
            let admin = postgres_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                    sqlx::Executor::execute(
                        &mut conn,
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                    )
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

fn uuid_simple() -> String {
    juru_core::ids::new_id().replace('-', "")
}

/// Runs one async test body against SQLite and against PostgreSQL:
/// `both_backends!(name, |db: TestDb| async move { … });` makes `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::new($crate::Backend::Sqlite).await;
                ($body)(db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::testing::TestDb::new($crate::Backend::Postgres).await;
                ($body)(db).await;
            }
        }
    };
}
